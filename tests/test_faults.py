"""Faults during a run: a dead tmux server, killed heartbeats, a crowd of heartbeats, a deleted
worktree, readers during writes. State must stay usable, nothing runs twice, no commit is lost."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from conftest import DONE, agent_profile, manifest, wait_for

FAST = {"retry_backoff_seconds": 0, "stall_minutes": 5}


def tasks(n: int, prefix: str = "f") -> list[dict]:
    return [{"id": f"{prefix}{i}", "title": f"task {i}", "files": [f"file{i}.txt"]} for i in range(n)]


def heartbeat(control) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    return subprocess.Popen([sys.executable, "-m", "doit", "heartbeat"], cwd=control.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def starts_per_attempt(control) -> dict[tuple[str, str], int]:
    """How many times each (task, attempt) went to running: never more than once."""
    db = sqlite3.connect(control.workdir / "state.db")
    counts: dict[tuple[str, str], int] = {}
    for task, reason in db.execute("SELECT task, reason FROM events WHERE new='running' AND "
                                   "old != 'running' AND old != 'stuck'"):
        attempt = reason.split("attempt ")[1].split()[0].rstrip(",)") if "attempt " in reason else "?"
        counts[(task, attempt)] = counts.get((task, attempt), 0) + 1
    return counts


def test_a_killed_tmux_server_is_noticed_and_every_task_restarted(control):
    control.write(manifest([tasks(3)], agent="hang", agents={"hang": agent_profile("hang.py")}, **FAST))
    control.doit("launch")
    control.project().runner.kill_server()
    out = control.doit("heartbeat").stdout
    assert out.count("its session is gone") == 3
    status = control.status()
    assert {s["attempts"] for s in status.values()} == {2}
    assert {s["status"] for s in status.values()} == {"running"}
    assert all(not p.dead for p in control.sessions().values()) and len(control.sessions()) == 3


def test_heartbeats_killed_at_random_points_leave_usable_state(control):
    agent = {**agent_profile("record.py", str(control.path / "rec"), "file", "{prompt_file}"),
             "env": {"TASKORCH_DEMO_DELAY": "0.3"}}
    control.write(manifest([tasks(4), tasks(4, "g")], agent="rec", agents={"rec": agent},
                           max_parallel=3, **FAST))
    control.doit("launch")
    rng = random.Random(3)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        proc = heartbeat(control)
        if rng.random() < 0.7:
            time.sleep(rng.uniform(0.0, 0.5))
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        if all(s["status"] in DONE for s in control.peek().values()):
            break
    assert all(s["status"] in DONE for s in control.status(cli=True).values()), control.status()
    assert set(starts_per_attempt(control).values()) == {1}
    db = sqlite3.connect(control.workdir / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_ten_heartbeats_at_once_launch_nothing_twice(control):
    control.write(manifest([tasks(6)], agent="hang", agents={"hang": agent_profile("hang.py")},
                           max_parallel=6, **FAST))
    procs = [heartbeat(control) for _ in range(10)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert any("another heartbeat is running" in out for out, _ in outs)
    assert starts_per_attempt(control) == {(f"f{i}", "1"): 1 for i in range(6)}
    assert len(control.sessions()) == 6


def test_a_worktree_deleted_by_hand_is_rebuilt_and_no_commit_is_lost(control):
    control.write(manifest([[{"id": "w", "title": "w", "files": ["w.txt"]}]], max_attempts=2,
                           verify_timeout_minutes=1, **FAST))
    control.doit("launch")
    exit_file = control.workdir / "runs" / "w" / "attempt-1.exit"
    wait_for(exit_file.exists, what="the agent to finish")
    first = control.status()["w"]["branch"]
    clone = control.workdir / "repo"
    head = subprocess.run(["git", "rev-parse", first], cwd=clone, capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["rm", "-rf", str(control.workdir / "worktrees" / "w")], check=True)
    wait_for(lambda: control.doit("heartbeat") and control.peek()["w"]["status"] in DONE,
             what="the task to complete after the rebuild", interval=0.3)
    assert control.status()["w"]["attempts"] == 2
    ancestry = subprocess.run(["git", "merge-base", "--is-ancestor", head, first], cwd=clone)
    assert ancestry.returncode == 0, "the first attempt's commit must still be on the branch"


def test_the_state_can_be_read_while_heartbeats_write(control):
    agent = {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"],
             "env": {"TASKORCH_DEMO_DELAY": "0.2"}}
    control.write(manifest([tasks(6)], agent="d", agents={"d": agent}, max_parallel=2, **FAST))
    control.doit("launch")
    errors: list[str] = []
    reads = [0]
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            result = subprocess.run([sys.executable, "-m", "doit", "status", "--format", "json"],
                                    cwd=control.path, capture_output=True, text=True)
            try:
                assert result.returncode == 0, result.stderr
                assert len(json.loads(result.stdout)["tasks"]) == 6
                reads[0] += 1
            except (AssertionError, ValueError) as exc:
                errors.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        wait_for(lambda: heartbeat(control).wait() == 0 and all(
            s["status"] in DONE for s in control.peek().values()), timeout=90,
            what="every task to complete")
    finally:
        stop.set()
        reader.join()
    assert not errors and reads[0] >= 3
