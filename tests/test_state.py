"""The state store and crash safety: killed runs leave state the next run can use."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import agent_profile, manifest
from taskorch.manifest import Task
from taskorch.state import Store

KILL_ONE_TRANSITION = """
import os, signal, sys
from pathlib import Path
from taskorch.state import Store
store = Store(Path(sys.argv[1]))
with store.transaction() as db:
    db.execute("UPDATE tasks SET status = 'running' WHERE id = 'a'")
    db.execute("INSERT INTO events (at, task, old, new, reason) VALUES ('x','a','pending','running','half')")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_transition_is_all_or_nothing_when_the_process_dies(tmp_path):
    path = tmp_path / "state.db"
    store = Store(path)
    store.seed([Task(id="a", index=0, phase=0, title="a")])
    proc = subprocess.run([sys.executable, "-c", KILL_ONE_TRANSITION, str(path)])
    assert proc.returncode == -signal.SIGKILL
    again = Store(path)
    assert again.get("a").status == "pending"
    assert [e.reason for e in again.events("a")] == ["seeded from the manifest"]
    assert again.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_change_is_journaled_with_old_new_and_reason(tmp_path):
    store = Store(tmp_path / "state.db")
    store.seed([Task(id="a", index=0, phase=0, title="a")])
    store.transition("a", "running", "launched", event="launched", attempts=1)
    store.transition("a", "error", "exit 3", event="failed")
    events = store.events("a")
    assert [(e.old, e.new, e.reason) for e in events] == [
        (None, "pending", "seeded from the manifest"), ("pending", "running", "launched"),
        ("running", "error", "exit 3")]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert store.get("a").attempts == 1


WRITER = """
import sys
from pathlib import Path
from taskorch.state import Store
store = Store(Path(sys.argv[1]))
for i in range(200):
    store.transition(sys.argv[2], "blocked" if i % 2 else "pending", f"step {i}",
                     event="gates_changed")
"""


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "state.db"
    store = Store(path)
    store.seed([Task(id=t, index=i, phase=0, title=t) for i, t in enumerate("abcd")])
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), t]) for t in "abcd"]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 4 + 4 * 200
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for t in "abcd":
        reasons = [r for (r,) in db.execute("SELECT reason FROM events WHERE task=? ORDER BY seq", (t,))]
        assert reasons[1:] == [f"step {i}" for i in range(200)]


def test_launches_killed_at_random_points_never_start_a_task_twice(control):
    """SIGKILL `doit launch` at random moments, then finish with one clean launch."""
    tasks = [{"id": f"k{i}", "title": f"k {i}", "files": [f"f{i}"]} for i in range(6)]
    control.write(manifest([tasks], max_parallel=6, agent="hang",
                           agents={"hang": agent_profile("hang.py")}))
    rng = random.Random(7)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-m", "doit", "launch"], cwd=control.path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.8))
        proc.kill()
        proc.wait()
    control.doit("launch")
    status = control.status()
    assert {s["status"] for s in status.values()} == {"running"}
    sessions = control.sessions()
    assert set(sessions) == {control.project().session_name(f"k{i}") for i in range(6)}
    assert not any(p.dead for p in sessions.values())
    # one agent process per task, however many launches were cut short
    procs = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True).stdout
    for i in range(6):
        spec = str(control.workdir / "runs" / f"k{i}") + "/"
        # (the tmux server's own args repeat the command of the session that started it)
        assert sum(spec in line and line.startswith(sys.executable)
                   for line in procs.splitlines()) == 1
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=control.workdir / "repo",
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(worktrees) == 7
    db = sqlite3.connect(control.workdir / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for i in range(6):
        starts = db.execute("SELECT COUNT(*) FROM events WHERE task=? AND new='running'",
                            (f"k{i}",)).fetchone()[0]
        assert starts == 1
