"""Where each attempt's output is in its task's log (issue 13: `doit logs`).

A task's log (`logs/<id>.log`) is its pane's byte stream, every attempt appended. At each launch
of an agent, launch.start records the log's size in `runs/<id>/attempt-N.log_start`: attempt N's
output is the log from there to where attempt N+1 starts (or to the end, for the last). Runs
from before that record fall back on the previous attempt's failure record (`log_end`, written
by heal.fail), else on the log's start.
"""

from __future__ import annotations

import json
from pathlib import Path

from taskorch.layout import Layout, write_atomic


def start_file(layout: Layout, task_id: str, attempt: int) -> Path:
    return layout.run_dir(task_id) / f"attempt-{attempt}.log_start"


def mark_start(layout: Layout, task_id: str, attempt: int) -> None:
    """Record where attempt `attempt`'s output will start: the log's size now, before its agent
    is started."""
    log = layout.log(task_id)
    write_atomic(start_file(layout, task_id, attempt),
                 f"{log.stat().st_size if log.exists() else 0}\n")


def recorded_start(layout: Layout, task_id: str, attempt: int) -> int | None:
    """The offset launch recorded for this attempt, if it did."""
    try:
        value = int(start_file(layout, task_id, attempt).read_text().strip())
    except (OSError, ValueError):
        return None
    return value if value >= 0 else None


def failure_end(layout: Layout, task_id: str, attempt: int) -> int | None:
    """The log's size when this attempt's failure was recorded (heal.fail), if it was."""
    try:
        value = json.loads(layout.failure_file(task_id, attempt).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    mark = value.get("log_end") if isinstance(value, dict) else None
    return mark if isinstance(mark, int) and not isinstance(mark, bool) and mark >= 0 else None


def start(layout: Layout, task_id: str, attempt: int) -> int:
    """Where attempt `attempt`'s output starts in the log."""
    recorded = recorded_start(layout, task_id, attempt)
    if recorded is not None:
        return recorded
    if attempt > 1:
        return failure_end(layout, task_id, attempt - 1) or 0
    return 0


def end(layout: Layout, task_id: str, attempt: int, current: int) -> int | None:
    """Where attempt `attempt`'s output ends: where the next one starts; None (the log's end, which
    may still grow) for the current attempt."""
    if attempt >= current:
        return None
    following = recorded_start(layout, task_id, attempt + 1)
    if following is not None:
        return following
    return failure_end(layout, task_id, attempt)


def read(layout: Layout, task_id: str, attempt: int, current: int) -> bytes:
    """Attempt `attempt`'s raw bytes as the log holds them now."""
    first, last = start(layout, task_id, attempt), end(layout, task_id, attempt, current)
    try:
        with open(layout.log(task_id), "rb") as f:
            size = f.seek(0, 2)
            if first > size:  # the log was cut or replaced since: show it all
                first = 0
            f.seek(first)
            return f.read() if last is None else f.read(max(last - first, 0))
    except OSError:
        return b""
