"""Wedged or doubled (issue 10): a tick that one bad step or task cannot stop, a failing gh that
stops nothing else, stuck agents that hold their slot, retries that fire without cron, and a
`doit status` that says why nothing moves."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import DONE, agent_profile, manifest, wait_for

BIN = Path(__file__).resolve().parent / "bin"
DEMO = {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"]}


def beat(control) -> str:  # type: ignore[no-untyped-def]
    """One heartbeat that must exit 0, whatever went wrong inside it; its output."""
    result = control.doit("heartbeat", check=False)
    assert result.returncode == 0, \
        f"heartbeat exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def beat_until(control, predicate, what: str,  # type: ignore[no-untyped-def]
               timeout: float = 40) -> list[str]:
    """Heartbeats until predicate(status) holds; every heartbeat's output."""
    outputs: list[str] = []

    def step() -> bool:
        outputs.append(beat(control))
        return predicate(control.status())
    wait_for(step, timeout=timeout, interval=0.1, what=what)
    return outputs


def health(control) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(control.doit("status", "--format", "json").stdout)["health"]


def test_a_step_that_raises_is_one_line_and_the_rest_of_the_tick_runs(control, remote):
    """cleanup: on-merge cannot remove a worktree someone locked (git raises); b still launches."""
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]},
                             {"id": "b", "title": "b", "files": ["b.txt"]}]],
                           repo=str(remote), merge="auto", cleanup="on-merge", max_parallel=1,
                           retry_backoff_seconds=0))
    control.doit("launch")
    subprocess.run(["git", "worktree", "lock", str(control.workdir / "worktrees" / "a")],
                   cwd=control.workdir / "repo", check=True)
    outputs = beat_until(control, lambda s: s["b"]["status"] != "pending", what="b launched")
    assert control.status()["a"]["status"] == "merged"
    failed = [line for out in outputs for line in out.splitlines() if "cleanup" in line]
    assert failed and all(line.startswith("heartbeat: cleanup a failed: GitError: ")
                          for line in failed), failed
    beat_until(control, lambda s: s["b"]["status"] == "merged", what="b merged")


def test_one_tasks_broken_retry_does_not_stop_the_others(control):
    """a's failure record is garbled, so restarting a raises; b is still restarted."""
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]},
                             {"id": "b", "title": "b", "files": ["b.txt"]}]],
                           agent="once", agents={"once": agent_profile("fail_once.py")},
                           retry_backoff_seconds=2, stall_minutes=5))
    control.doit("launch")
    runs = control.workdir / "runs"
    wait_for(lambda: all((runs / t / "attempt-1.exit").exists() for t in "ab"), what="both exits")
    beat(control)
    assert {s["status"] for s in control.status().values()} == {"error"}
    (runs / "a" / "attempt-1.failure.json").write_text("[]")
    db = sqlite3.connect(control.workdir / "state.db")
    with db:  # a is due now, whatever its jitter said: its broken retry comes before b's
        db.execute("UPDATE tasks SET retry_at='2000-01-01T00:00:00Z' WHERE id='a'")
    db.close()
    outputs = beat_until(control, lambda s: s["b"]["attempts"] == 2, what="b restarted")
    assert any(line.startswith("heartbeat: retry a failed: AttributeError: ")
               for out in outputs for line in out.splitlines())
    assert control.status()["a"]["status"] == "error"


def test_a_failing_gh_pr_list_still_launches_and_watches(control, remote, tmp_path):
    """`gh pr list` answers 502 every time: every heartbeat exits 0, says so in one line, and
    the second task is still launched and seen through to verified."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        "if sys.argv[1:4] == ['pr', 'list', '--state']:\n"
        "    sys.exit('HTTP 502: Bad Gateway (https://api.github.com/graphql)')\n"
        f"os.execv({sys.executable!r}, [{sys.executable!r}, {str(BIN / 'gh')!r}, *sys.argv[1:]])\n")
    (bin_dir / "gh").chmod(0o755)
    control.env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                       FAKE_GH_STATE=str(tmp_path / "gh-state.json"),
                       FAKE_GH_LOG=str(tmp_path / "gh-log.jsonl"))
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]},
                             {"id": "b", "title": "b", "files": ["b.txt"]}]],
                           repo=str(remote), forge="github", agent="d", agents={"d": DEMO},
                           max_parallel=1, retry_backoff_seconds=0))
    control.doit("launch")
    outputs = beat_until(control, lambda s: s["b"]["status"] in DONE, what="b verified")
    status = control.status()
    assert status["a"]["status"] in DONE and status["a"]["attempts"] == 1
    gh_lines = [[line for line in out.splitlines() if "502" in line] for out in outputs]
    assert all(len(lines) <= 1 for lines in gh_lines)
    assert any(lines and "gh pr list" in lines[0] for lines in gh_lines)


def test_a_stuck_task_with_a_live_session_holds_its_slot(control, tmp_path):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"], "agent": "ask"},
                             {"id": "b", "title": "b", "files": ["b.txt"]}]],
                           agents={"ask": {**agent_profile("ask.py", str(tmp_path / "answers"),
                                                           "Delete all files? (y/n)", "y"),
                                           "waiting": [r"\(y/n\)"]}},
                           max_parallel=1, retry_backoff_seconds=0, stall_minutes=5))
    control.doit("launch")
    beat_until(control, lambda s: s["a"]["status"] == "stuck", what="a stuck")
    for _ in range(2):
        beat(control)
    control.doit("launch")
    assert control.status()["b"]["status"] == "pending"
    name = control.project().session_name
    assert name("b") not in control.sessions() and not control.sessions()[name("a")].dead
    control.doit("stop", "a")  # a person ends it: the slot is free again
    beat_until(control, lambda s: s["b"]["status"] in DONE, what="b launched after a stopped")


def test_a_scheduled_retry_fires_without_cron(control):
    """hook on, no cron, no further `doit heartbeat`: the retry 1-2 s out still happens."""
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]], agent="once",
                           agents={"once": agent_profile("fail_once.py")}, hook=True,
                           retry_backoff_seconds=2, stall_minutes=5))
    control.doit("launch")
    status = wait_for(lambda: (s := control.peek()["a"])["status"] in DONE and s,
                      timeout=40, interval=0.2, what="a's second attempt to finish")
    assert status["attempts"] == 2


def test_a_task_removed_from_the_manifest_frees_its_slot_and_is_reported(control):
    tasks = [{"id": "a", "title": "a", "files": ["a.txt"], "agent": "hang"},
             {"id": "b", "title": "b", "files": ["b.txt"]}]
    top = {"agents": {"hang": agent_profile("hang.py")}, "max_parallel": 1,
           "retry_backoff_seconds": 0}
    control.write(manifest([tasks], **top))
    control.doit("launch")
    assert control.status()["a"]["status"] == "running"
    control.write(manifest([tasks[1:]], **top))
    beat_until(control, lambda s: s["b"]["status"] in DONE, what="b launched once a was removed")
    assert control.project().session_name("a") not in control.sessions()
    gone = health(control)["notInManifest"]
    assert [(t["id"], t["status"]) for t in gone] == [("a", "stuck")]
    table = control.doit("status").stdout
    assert "not in the manifest: a (stuck)" in table


def test_status_health_shows_the_last_tick_an_overdue_retry_and_a_held_lock(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]],
                           agent="hang", agents={"hang": agent_profile("hang.py")}))
    assert health(control)["lastTick"] is None
    control.doit("launch")
    beat(control)
    assert health(control)["lastTick"]["seconds"] < 60
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    db = sqlite3.connect(control.workdir / "state.db")
    with db:
        db.execute("UPDATE tasks SET status='error', retry_at=? WHERE id='a'", (long_ago,))
    from taskorch import lock
    with lock.hold(control.workdir / "lock"):
        os.utime(control.workdir / "lock", (time.time() - 120, time.time() - 120))
        got = health(control)
        table = control.doit("status").stdout
    assert got["lock"]["pid"] == os.getpid() and got["lock"]["seconds"] >= 120
    assert [(r["id"], r["retryAt"]) for r in got["overdueRetries"]] == [("a", long_ago)]
    last = table.strip().splitlines()[-1]
    assert last.startswith("health: ") and f"lock held by pid {os.getpid()} for 2m" in last
    assert "retry overdue: a (due 10m ago)" in last
    assert health(control)["lock"] is None


def test_no_delayed_tick_lingers_once_nothing_can_fall_due(control):
    # a stall check was asked for while the agent ran; once it is done, that sleeper must end
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]], hook=True,
                           stall_minutes=20))
    control.doit("launch")
    wait_for(lambda: health(control)["nextTick"] is not None or
             control.peek()["a"]["status"] in DONE, what="a stall check or the end")
    wait_for(lambda: control.peek()["a"]["status"] in DONE, what="a done")
    beat(control)
    assert health(control)["nextTick"] is None
    wait_for(lambda: not sleepers(control), timeout=10, what="the delayed tick's sleeper to end")


def sleepers(control) -> list[str]:  # type: ignore[no-untyped-def]
    """This project's pending delayed-tick processes (python -m taskorch.wakeup ...)."""
    lines = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in lines.splitlines()
            if "taskorch.wakeup" in line and str(control.workdir) in line]
