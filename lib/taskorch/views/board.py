"""The project as the dashboard shows it, read once per page from the state store.

Everything the page draws comes from here as plain data, so the drawing modules never touch the
store, and a request of `doit serve` reads state fresh and closes it. "Needs you" is the notion
`doit status --watch` uses (commands/watch.py), not a second one: the page and the terminal must
never disagree on who is waiting for a person.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from taskorch import signals
from taskorch.commands import status, watch
from taskorch.project import Project, tally
from taskorch.terminal import shown
from taskorch.views import attempts, logtail

# The edges a phase's DAG draws: what a task waits for that is a task. Phase gates are the
# grouping itself.
DRAWN_WAITS = ("dependsOn", "same-file")


@dataclass(frozen=True)
class Card:
    """One task's line on the page."""

    id: str
    title: str
    phase: int
    status: str
    reason: str
    needs_you: bool
    rank: int             # watch.rank: needs you, running, then the rest
    attempts: int
    rounds: int           # merge-gate rework rounds
    pr_number: int | None
    delivery: str | None
    branch: str | None
    cost: str
    active_at: str | None  # the last progress seen, else the row's last change
    log: list[str] | None  # the log's tail, or None when it is fetched on demand (serve)


@dataclass(frozen=True)
class Board:
    project: str
    phases: list[str]
    cards: list[Card]                        # manifest order
    waits: dict[str, list[tuple[str, str]]]  # task -> (task it waits for, dependsOn|same-file)
    spans: dict[str, list[attempts.Span]]
    tally: str
    usage: str
    health: str
    now: float
    version: str
    needing: list[Card] = field(default_factory=list)  # needs-you cards, manifest order


def version(project: Project) -> str:
    """Changes whenever the page may have: a state changed (the journal grew), a heartbeat
    ended (progress and costs are written by ticks, not journaled) or the manifest changed."""
    def mtime(path: object) -> int:
        try:
            return path.stat().st_mtime_ns  # type: ignore[attr-defined]
        except OSError:
            return 0
    return (f"{project.store.last_event()}-{mtime(project.layout.last_tick)}"
            f"-{mtime(project.manifest.path)}")


def cost_of(usage: dict | None) -> str:
    if not usage:
        return "-"
    if usage.get("cost_usd") is not None:
        return f"${usage['cost_usd']:.2f}"
    tokens = (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)
    return f"{tokens:,} tok" if tokens else "-"


def read(project: Project, logs: bool = True) -> Board:
    """The board now. `logs`: embed each started task's log tail (the static file); `doit
    serve` leaves them out and answers /log/<id> when one is opened."""
    m = project.manifest
    views = project.views()
    usage = status.usage_of(project, views)
    cards = []
    for task in m.tasks:
        view, row = views[task.id], views[task.id].row
        cards.append(Card(
            id=task.id, title=shown(task.title), phase=task.phase, status=view.status,
            reason=shown(view.reason), needs_you=watch.needs_you(project, view),
            rank=watch.rank(project, view), attempts=row.attempts, rounds=row.rounds,
            pr_number=row.pr_number, delivery=row.delivery, branch=row.branch,
            cost=cost_of(usage[task.id]), active_at=row.last_progress or row.updated_at,
            log=logtail.tail(project.layout, task.id, row.attempts) if logs else None))
    waits = {t.id: [(w.id, w.reason) for w in project.plan.waits[t.id]
                    if w.reason in DRAWN_WAITS] for t in m.tasks}
    spans = attempts.read(project.store, {c.id: c.attempts for c in cards},
                          {c.id: c.status for c in cards})
    total = signals.summed(u for u in usage.values() if u)
    return Board(
        project=m.project, phases=[p.name for p in m.phases], cards=cards, waits=waits,
        spans=spans, tally=tally(c.status for c in cards),
        usage=signals.usage_text(total) if total else "",
        health=status.health_line(status.health(project)), now=time.time(),
        version=version(project), needing=[c for c in cards if c.needs_you])
