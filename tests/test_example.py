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
    # nothing more is typed: the pane-died hook runs a heartbeat at every exit, which verifies
    # the finished task and launches what its completion opened
    status = wait_for(lambda: (s := control.status()) and all(
        t["status"] == "complete" for t in s.values()) and s, timeout=60,
        what="the hooks to carry every task to complete")
    assert len(status) == 6


def test_default_verb_is_status(control):
    control.write((ROOT / "orchestrator.yaml").read_text())
    assert "6 tasks:" in control.doit().stdout
