"""Each task's attempts as time spans, read from the journal (the store's `events` table).

An attempt starts where a task goes to `running` from anything but `stuck` (a launch or a
restart; `stuck -> running` is a question answered, the same attempt going on) and ends at the
first change that leaves `running` and `stuck` (complete, error, skipped...). A span with no end
is the attempt still under way. The journal is the truth of when things happened; the row only
says how many attempts there were.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskorch.state import Store, epoch

LIVE = ("running", "stuck")  # the states an attempt's agent may still be in


@dataclass(frozen=True)
class Span:
    task: str
    attempt: int
    start: float          # seconds since the epoch
    end: float | None     # None: still under way
    outcome: str          # the state it ended in, or the task's state now when under way
    reason: str           # the journal's reason for that state


def read(store: Store, attempts: dict[str, int], states: dict[str, str]) -> dict[str, list[Span]]:
    """Spans by task, oldest first. `attempts` is each task's attempt count from its row: when
    the journal holds fewer starts (a row seeded from the manifest or recovered from git), the
    spans it has are numbered as the last ones, so a bar's number is the attempt `doit logs
    --attempt` takes."""
    rows = store.moves(into="running", out_of=LIVE)  # what can start or end an attempt
    open_: dict[str, tuple[float, str]] = {}
    closed: dict[str, list[tuple[float, float | None, str, str]]] = {}
    for at, task, old, new, reason in rows:
        when = epoch(at) or 0.0
        if new == "running" and old != "stuck":
            if task in open_:  # a start with no end journaled: end the earlier one here
                start, _ = open_.pop(task)
                closed.setdefault(task, []).append((start, when, "error", "no end journaled"))
            open_[task] = (when, reason)
        elif old in LIVE and new not in LIVE and task in open_:
            start, _ = open_.pop(task)
            closed.setdefault(task, []).append((start, when, new, reason))
    for task, (start, reason) in open_.items():
        closed.setdefault(task, []).append((start, None, states.get(task, "running"), reason))
    out: dict[str, list[Span]] = {}
    for task, spans in closed.items():
        offset = max(attempts.get(task, 0) - len(spans), 0)
        out[task] = [Span(task, offset + i + 1, start, end, outcome, reason)
                     for i, (start, end, outcome, reason) in enumerate(spans)]
    return out
