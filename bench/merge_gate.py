"""What the merge gate costs (issue 12): `--tasks` independent tasks (the built-in demo agent, each
its own file) on the demo repository, `merge: auto`, heartbeats run back to back by this script
(hook off, so nothing else ticks).

1. To merged: launch, then heartbeats until every task is merged: wall time and ticks, without
   `checks` and with `checks: "true"`. Every merge moves the base, so with checks the others
   are tested again on it: the queue lands one task a tick, by design.
2. Held: every task delivered, its checks failing (`exit 1`) under `ci_failed: notify`, so each
   tick judges them all again (one merge-tree each; the result is read back, not re-run). The
   same tasks under `merge: manual` (no gate) are the baseline: the difference is what the gate
   costs a tick.

    python bench/merge_gate.py [--tasks 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from heartbeat import doit, stop, task, top
from plan_launch import control_dir, machine

from taskorch.project import Project


def scenario(n: int, **keys: Any) -> dict[str, Any]:
    data = top(f"gate-{n}", {"demo": []}, n, False, [[task(f"t{i}") for i in range(n)]])
    data.update({"agent": "demo", "agents": {}, "merge": "auto", "retry_backoff_seconds": 0,
                 **keys})
    return data


def statuses(cwd: Path) -> dict[str, str]:
    project = Project.load(cwd / "orchestrator.yaml", store=True)
    try:
        return project.store.statuses()
    finally:
        project.store.close()


def beat_until(cwd: Path, done: Any, limit: float = 600) -> tuple[float, int]:
    """Heartbeats back to back until `done(statuses)`: (seconds, ticks)."""
    start, ticks = time.perf_counter(), 0
    while not done(statuses(cwd)):
        if time.perf_counter() - start > limit:
            raise SystemExit(f"not done in {limit:g} s: {statuses(cwd)}")
        doit(cwd, "heartbeat")
        ticks += 1
    return time.perf_counter() - start, ticks


def to_merged(n: int, **keys: Any) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="taskorch-gate-", ignore_cleanup_errors=True) as tmp:
        (Path(tmp) / "c").mkdir()
        cwd = control_dir(Path(tmp) / "c", scenario(n, **keys))
        try:
            doit(cwd, "launch")
            return beat_until(cwd, lambda s: all(v == "merged" for v in s.values()))
        finally:
            stop(Project.load(cwd / "orchestrator.yaml"))


def held_tick(n: int, repeat: int, **keys: Any) -> float:
    """Median seconds of a heartbeat once every task is delivered and stays open."""
    with tempfile.TemporaryDirectory(prefix="taskorch-gate-", ignore_cleanup_errors=True) as tmp:
        (Path(tmp) / "c").mkdir()
        cwd = control_dir(Path(tmp) / "c", scenario(n, **keys))
        project = Project.load(cwd / "orchestrator.yaml", store=True)
        try:
            doit(cwd, "launch")
            beat_until(cwd, lambda s: all(v == "pr_open" for v in s.values()) and all(
                "not merged" in r.reason or keys.get("merge") == "manual"
                for r in project.store.rows().values()))
            return statistics.median(doit(cwd, "heartbeat")[0] for _ in range(repeat))
        finally:
            project.store.close()
            stop(Project.load(cwd / "orchestrator.yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.tasks
    print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}")
    bare, bare_ticks = to_merged(n)
    gated, gated_ticks = to_merged(n, checks="true")
    print(f"{n} tasks, launch to all merged: no checks {bare:.1f} s ({bare_ticks} ticks); "
          f"checks 'true' {gated:.1f} s ({gated_ticks} ticks): x{gated / bare:.2f}")
    manual = held_tick(n, args.repeat, merge="manual")
    held = held_tick(n, args.repeat, checks="exit 1", reactions={"ci_failed": "notify"})
    print(f"{n} tasks delivered and open, one heartbeat (median of {args.repeat}): merge: manual "
          f"(no gate) {manual:.2f} s; gate holding all of them (checks failed) {held:.2f} s: "
          f"{(held - manual) / n * 1000:+.0f} ms a task")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
