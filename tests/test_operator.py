"""Operator verbs and cron: attach, stop, retry, skip; the crontab line and its install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import agent_profile, manifest, wait_for

FAST = {"retry_backoff_seconds": 0}


def hang_then_wait(control):  # type: ignore[no-untyped-def]
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}],
                            [{"id": "b", "title": "b", "files": ["b"]}]],
                           agent="hang", agents={"hang": agent_profile("hang.py")}, **FAST))
    control.doit("launch")


def test_attach_prints_the_tmux_command(control):
    hang_then_wait(control)
    out = control.doit("attach", "--print", "a").stdout.strip()
    session = control.project().session_name("a")
    assert out.startswith("tmux -L taskorch-test-") and out.endswith(f"attach-session -t ={session}")
    missing = control.doit("attach", "b", check=False)
    assert missing.returncode != 0 and "attach: b has no session (it is blocked)" in missing.stderr
    unknown = control.doit("attach", "zz", check=False)
    assert "attach: no task 'zz'" in unknown.stderr


def test_stop_ends_the_agent_and_leaves_the_task_stuck_until_retry(control):
    hang_then_wait(control)
    out = control.doit("stop", "a").stdout
    assert "a: stopped; `doit retry a` starts it again" in out
    assert control.project().session_name("a") not in control.sessions()
    control.doit("heartbeat")
    status = control.status()["a"]
    assert status["status"] == "stuck" and "stopped by hand" in status["reason"]
    assert control.project().session_name("a") not in control.sessions(), \
        "a stopped task must not be restarted by itself"


def test_retry_resets_the_budget_and_restarts_now(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}]], agent="fail",
                           agents={"fail": agent_profile("fail.py")}, max_attempts=1, **FAST))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and "gave up" in control.peek()["a"]["reason"],
             what="the budget to run out", interval=0.3)
    out = control.doit("retry", "a").stdout
    assert "a: attempt budget reset; restarting now" in out
    assert "a: launched attempt 2" in out
    assert control.status()["a"]["attempts"] == 2


def test_skip_marks_done_by_hand_and_opens_the_gate(control):
    hang_then_wait(control)
    out = control.doit("skip", "a").stdout
    assert "a: skipped; tasks waiting for it may start" in out
    assert control.status()["a"]["status"] == "skipped"
    control.doit("heartbeat")
    assert control.status()["b"]["status"] == "running"
    assert control.status()["a"]["status"] == "skipped"  # nothing of it was delivered


@pytest.fixture
def crontab():  # type: ignore[no-untyped-def]
    """The real crontab of this user, restored afterwards."""
    before = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    yield
    if before.returncode == 0:
        subprocess.run(["crontab", "-"], input=before.stdout, text=True, check=True)
    else:
        subprocess.run(["crontab", "-r"], capture_output=True)


def installed() -> list[str]:
    out = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return out.stdout.splitlines() if out.returncode == 0 else []


def test_a_persons_task_waits_for_done_then_is_verified_and_delivered(control, remote):
    """`agent: human` (issue 13): a worktree and branch, no program and no session; the
    heartbeat leaves it alone (never lost, never nudged); `doit done` verifies what the person
    left (uncommitted work committed for them) and delivers it, and its dependent starts."""
    control.write(manifest([[{"id": "p", "title": "By hand", "files": ["p.txt"], "agent": "human"},
                             {"id": "q", "title": "After", "files": ["q.txt"],
                              "dependsOn": ["p"]},
                             {"id": "r", "title": "Later", "files": ["r.txt"], "agent": "human",
                              "dependsOn": ["p"]}]],
                           repo=str(remote), merge="auto", stall_minutes=0.001))
    assert "waits for a person" in control.doit("launch").stdout
    row = control.status()["p"]
    assert row["status"] == "running" and row["session"] is None, row
    worktree = Path(row["worktree"])
    assert (worktree / ".git").exists() and control.sessions() == {}
    for _ in range(2):  # past the stall limit: still running, nothing nudged or restarted
        control.doit("heartbeat")
    assert control.status()["p"]["status"] == "running"
    assert control.status()["p"]["attempts"] == 1
    refused = control.doit("done", "r", check=False)
    assert refused.returncode != 0 and "r is blocked, not running" in refused.stdout + \
        refused.stderr
    (worktree / "p.txt").write_text("done by a person\n")
    said = control.doit("done", "p").stdout
    assert "p: done; verifying" in said
    status = wait_for(lambda: control.doit("heartbeat") and (s := control.status())["p"][
        "status"] == "merged" and s, what="p merged")
    assert status["q"]["status"] in ("running", "complete", "pr_open", "merged"), status["q"]
    shown = subprocess.run(["git", "show", "main:p.txt"], cwd=remote, capture_output=True,
                           text=True)
    assert shown.stdout == "done by a person\n"
    wrong = control.doit("done", "q", check=False)
    assert wrong.returncode != 0 and "worked by agent 'demo'" in wrong.stdout + wrong.stderr


def test_cron_prints_a_line_that_cds_sets_path_and_logs(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}]]))
    line = control.doit("cron", "--every", "7").stdout.strip()
    assert line.startswith("*/7 * * * * cd ")
    assert str(control.path) in line and "PATH=" in line and f"{sys.executable} -m doit heartbeat" in line
    assert f">> {control.workdir / 'heartbeat.log'} 2>&1" in line
    assert line.endswith(f"# taskorch heartbeat: {control.path}")


def test_cron_install_is_idempotent_runs_a_heartbeat_and_uninstalls_only_ours(control, crontab):
    # one test, not several: they would race on the one real crontab under pytest-xdist
    subprocess.run(["crontab", "-"], input="0 3 * * * echo keep-me\n", text=True, check=True)
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}]]))
    assert "installed: the heartbeat runs every 5 min" in control.doit("cron", "--install").stdout
    assert "already has that line" in control.doit("cron", "--install").stdout
    lines = installed()
    assert lines[0] == "0 3 * * * echo keep-me" and len(lines) == 2
    # run the line as cron would: its own minimal environment
    command = lines[1].split(" ", 5)[5].rsplit(" # taskorch", 1)[0].replace("\\%", "%")
    subprocess.run(["sh", "-c", command], check=True,
                   env={"HOME": os.environ.get("HOME", "/"), "PATH": "/usr/bin:/bin"})
    log = (control.workdir / "heartbeat.log").read_text()
    assert "a: launched attempt 1" in log and "heartbeat:" in log
    assert "removed" in control.doit("cron", "--uninstall").stdout
    assert installed() == ["0 3 * * * echo keep-me"]
