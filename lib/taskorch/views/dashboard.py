"""The dashboard page: a Board (board.py) rendered as one self-contained HTML document.

Order on the page: what needs a person first (with why), then every task grouped by phase,
then the attempts over time. Within a phase, rows follow `doit status --watch`'s order: needs
you, running, then the rest.

Readable at 500 tasks: the page draws one DAG per phase, inside that phase's collapsible
section, rather than one graph of everything. A single graph of hundreds of boxes is a picture
nobody can read, and dot's time grows faster than linearly with its size; per phase, each graph
is a size a person can follow and a layout dot does in well under a second. Each SVG keeps its
natural size (viewBox in px) in a scrolling box, so nothing is shrunk to illegibility. A phase
opens by itself when it is small, or when something in it runs or needs you; a big quiet one
(all merged, or all blocked) starts folded, one line saying what it holds. Dependencies on
another phase's tasks show as dashed stubs (dag.py), so splitting loses no edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from taskorch.commands.status import age
from taskorch.lifecycle import State
from taskorch.project import tally
from taskorch.state import stamp
from taskorch.views import dag, page, timeline
from taskorch.views.board import Board, Card
from taskorch.views.states import css

OPEN_UP_TO = 60       # tasks: a phase this small starts open
REFRESH_MS = 2000     # how often the live page asks whether anything changed

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_PAGE = _ENV.from_string(page.PAGE)
_BODY = _ENV.from_string(page.BODY)


@dataclass(frozen=True)
class PhaseView:
    number: int
    name: str
    cards: list[Card]
    tally: str
    needing: int
    open: bool
    dag: Markup


def phases(board: Board) -> list[PhaseView]:
    titles = {c.id: c.title for c in board.cards}
    states = {c.id: c.status for c in board.cards}
    phase_of = {c.id: c.phase for c in board.cards}
    out = []
    for number, name in enumerate(board.phases):
        cards = [c for c in board.cards if c.phase == number]
        ranked = sorted(cards, key=lambda c: c.rank)  # stable: manifest order within a rank
        busy = any(c.needs_you or c.status == "running" for c in cards)
        drawing = dag.svg(number, [c.id for c in cards], board.waits, titles, states, phase_of)
        out.append(PhaseView(number + 1, name, ranked, tally(c.status for c in cards),
                             sum(c.needs_you for c in cards), len(cards) <= OPEN_UP_TO or busy,
                             Markup(drawing)))
    return out


def gantt(board: Board) -> Markup:
    rows = [(c.phase, c.id, board.spans[c.id]) for c in sorted(board.cards, key=lambda c: c.phase)
            if board.spans.get(c.id)]
    return Markup(timeline.svg(rows, board.phases, board.now))


def _since(at: str | None) -> str:
    return f"{age(at)} ago" if at else "-"


def context(board: Board, live: bool) -> dict[str, Any]:
    return {"board": board, "live": live, "phases": phases(board), "timeline": gantt(board),
            "generated": stamp(board.now).replace("T", " ").rstrip("Z"), "css": css,
            "age": _since, "legend": [s.value for s in State]}


def body(board: Board, live: bool = False) -> str:
    """What the live page swaps in on a refresh: everything inside <main>."""
    return _BODY.render(context(board, live))


def html(board: Board, live: bool = False) -> str:
    """The whole page. Static (`live` False): every started task's log tail is embedded, and
    there is no script at all. Live: a small inline script refreshes it (page.SCRIPT)."""
    return _PAGE.render(board=board, live=live, every=REFRESH_MS, style=Markup(page.STYLE),
                        script=Markup(page.SCRIPT), body=Markup(body(board, live)))
