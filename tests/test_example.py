"""The shipped example: plan and launch on a fresh machine, no network, no LLM."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_example_runs_end_to_end(control):
    control.write((ROOT / "orchestrator.yaml").read_text())
    plan = control.doit("plan").stdout
    assert "Waves (what starts together" in plan
    out = control.doit("launch").stdout
    started = [line.split(":")[0] for line in out.splitlines() if ": launched attempt 1" in line]
    assert started == ["t1", "t3"]
    remote = control.workdir / "demo" / "remote.git"
    assert (remote / "HEAD").is_file()
    for task_id in started:
        worktree = control.workdir / "worktrees" / task_id
        wait_for(lambda: "committed" in (control.workdir / "logs" / f"{task_id}.log").read_text(),
                 what=f"the demo agent of {task_id} to commit")
        count = subprocess.run(["git", "rev-list", "--count", "HEAD", "--not", "origin/main"],
                               cwd=worktree, capture_output=True, text=True, check=True).stdout
        assert int(count) == 1
    status = control.doit("status").stdout
    assert "t1  1      running" in status
    assert "t4  2      blocked" in status


def test_default_verb_is_status(control):
    control.write((ROOT / "orchestrator.yaml").read_text())
    assert "6 tasks:" in control.doit().stdout
