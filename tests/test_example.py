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
    # nothing more is typed: every agent's exit starts a heartbeat, which verifies the work,
    # pushes it, merges it (merge: auto) and launches what that opened
    status = wait_for(lambda: (s := control.peek()) and all(
        t["status"] == "merged" for t in s.values()) and s, timeout=90,
        what="the hooks to carry every task to merged")
    assert len(status) == 6
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", "main"], cwd=remote,
                           capture_output=True, text=True, check=True).stdout.split()
    assert {"src/config.py", "src/health.py", "src/jobs.py", "src/kill_switch.py",
            "docs/config.md"} <= set(files)
    config = subprocess.run(["git", "show", "main:src/config.py"], cwd=remote, capture_output=True,
                            text=True, check=True).stdout
    assert config.splitlines() == ["t1: Reject config paths outside the project",
                                   "t2: Log rejected config keys"]


def test_default_verb_is_status(control):
    control.write((ROOT / "orchestrator.yaml").read_text())
    assert "6 tasks:" in control.doit().stdout
