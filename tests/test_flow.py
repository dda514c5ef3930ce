"""End to end: 12 tasks in 3 phases, `doit launch` once, then only `doit heartbeat`.

The journal is the witness: every task reaches complete, nothing starts before what it waits
for is complete, and no two tasks with overlapping files ever run at the same time.
"""

from __future__ import annotations

import sqlite3
import sys

from conftest import DONE, manifest, wait_for
from taskorch.overlap import overlaps

TASKS = [
    [{"id": "a1", "title": "a1", "files": ["src/core.py"]},
     {"id": "a2", "title": "a2", "files": ["src/core.py", "src/io.py"]},
     {"id": "a3", "title": "a3", "files": ["src/io.py"]},
     {"id": "a4", "title": "a4", "files": ["docs/a.md"], "dependsOn": ["a1"]},
     {"id": "a5", "title": "a5", "files": ["tests/test_a.py"]}],
    [{"id": "b1", "title": "b1", "files": ["src"]},
     {"id": "b2", "title": "b2", "files": ["docs/*.md"]},
     {"id": "b3", "title": "b3", "files": ["tests/test_b.py"], "dependsOn": ["b2"]},
     {"id": "b4", "title": "b4", "files": ["src/new.py"]}],
    [{"id": "c1", "title": "c1", "files": ["src/core.py"]},
     {"id": "c2", "title": "c2", "files": ["README.md"]},
     {"id": "c3", "title": "c3", "files": ["docs/a.md", "src/io.py"], "dependsOn": ["c2"]}],
]


def test_twelve_tasks_are_done_in_plan_order_with_no_overlapping_agents(control):
    agent = {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"],
             "env": {"TASKORCH_DEMO_DELAY": "0.4"}}
    control.write(manifest(TASKS, agent="d", agents={"d": agent}, max_parallel=3,
                           retry_backoff_seconds=0))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and all(
        s["status"] in DONE for s in control.peek().values()), timeout=120,
        what="all twelve tasks to complete", interval=0.3)

    db = sqlite3.connect(control.workdir / "state.db")
    events = db.execute("SELECT seq, task, new FROM events ORDER BY seq").fetchall()
    start = {task: seq for seq, task, new in events if new == "running"}
    end = {task: seq for seq, task, new in events if new == "complete"}
    assert set(start) == set(end) == {t["id"] for phase in TASKS for t in phase}

    files = {t["id"]: t["files"] for phase in TASKS for t in phase}
    plan = control.project().plan
    for task_id in files:
        for wait in plan.waits[task_id]:
            if wait.reason == "phase":
                before = [t["id"] for t in TASKS[plan.phase_of_gate(wait.id)]]
            else:
                before = [wait.id]
            for other in before:
                assert end[other] < start[task_id], f"{task_id} started before {other} completed"
    for a in files:
        for b in files:
            if a < b and any(overlaps(x, y) for x in files[a] for y in files[b]):
                apart = end[a] < start[b] or end[b] < start[a]
                assert apart, f"{a} {files[a]} and {b} {files[b]} ran at the same time"

    running, peak = set(), 0
    for _, task, new in events:
        running.discard(task)
        if new == "running":
            running.add(task)
        peak = max(peak, len(running))
    assert peak <= 3
