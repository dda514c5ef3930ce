"""`doit status --watch`: the status table, live, refreshed in place (issue 13).

Tasks needing a person come first (stuck, or in error with nothing left to retry it), then the
running ones, then the rest, in manifest order within each group. Every row is cut to the
terminal's width (never wrapped), and the table to its height, with a line counting what did not
fit. Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).

On a terminal the table is drawn on the alternate screen, redrawn in place every `--interval`
seconds and at once when the terminal is resized; Ctrl-C leaves it and gives the screen back. In
a pipe each refresh is printed as plain text after a blank line. Everything an agent wrote
(reasons read off its screen) is shown escape-free; the only escapes are taskorch's own.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType

from taskorch import heal
from taskorch.commands import status
from taskorch.interrupts import Interrupts
from taskorch.project import Project, View, tally
from taskorch.terminal import reader_gone, shown

COLUMNS = ("", "id", "phase", "state", "try", "age", "active", "why")
NEEDS_YOU, RUNNING = 0, 1
# The rest, after those two: what is still moving, then what waits, then what is done.
RANK = {"error": 2, "pending": 3, "complete": 4, "pr_open": 4, "blocked": 5, "merged": 6,
        "skipped": 6}
COLOUR = {NEEDS_YOU: "1;31", RUNNING: "32", 2: "33", 4: "36", 6: "2"}
MARK = "!"  # the first column of a row that needs you, for eyes and terminals without colour


@dataclass(frozen=True)
class Size:
    columns: int
    lines: int


def needs_you(project: Project, view: View) -> bool:
    """Stuck, or in error with no retry coming (budget spent, or nothing schedules one)."""
    if view.status == "stuck":
        return True
    return view.status == "error" and (view.row.retry_at is None
                                       or heal.budget_left(project, view.row) <= 0)


def rank(project: Project, view: View) -> int:
    if needs_you(project, view):
        return NEEDS_YOU
    if view.status == "running":
        return RUNNING
    return RANK.get(view.status, 3)


def cells_of(text: str) -> int:
    from unicodedata import east_asian_width
    return sum(2 if east_asian_width(c) in "WF" else 1 for c in text)


def fit(text: str, width: int) -> str:
    """`text` in at most `width` terminal cells (wide characters take two), an ellipsis ending
    what was cut."""
    if cells_of(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        need = cells_of(char)
        if used + need > width - 1:
            break
        kept.append(char)
        used += need
    return "".join(kept) + "…"


def paint(text: str, code: str | None, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code and text else text


def frame(project: Project, size: Size, colour: bool, interval: float) -> list[str]:
    """The lines of one refresh, each at most size.columns - 1 cells (a full last column would
    leave the cursor waiting to wrap), at most size.lines of them."""
    m = project.manifest
    statuses = project.store.statuses()
    quiet = status.quiet_ids(project, statuses, False)
    listed = project.task_ids - quiet.keys()
    rows = project.store.rows_of(listed) if quiet else project.store.rows()
    views = project.views(rows, only=listed, statuses=statuses)
    order = {t.id: i for i, t in enumerate(m.tasks)}
    phase = {t.id: t.phase for t in m.tasks}
    ranked = sorted(views, key=lambda i: (rank(project, views[i]), order[i]))
    ranks = {i: rank(project, views[i]) for i in ranked}
    width = max(size.columns - 1, 10)

    table = [COLUMNS] + [(
        MARK if ranks[i] == NEEDS_YOU else "", i, str(phase[i] + 1), views[i].status, str(views[i].row.attempts), status.age(views[i].row.updated_at),
        status.age(views[i].row.last_progress) if views[i].status in ("running", "stuck") else "-",
        " ".join(shown(views[i].reason).split()) or "-",
    ) for i in ranked]
    widths = [max(cells_of(r[c]) for r in table) for c in range(len(COLUMNS) - 1)]

    def line(cells: tuple[str, ...], code: str | None) -> str:
        plain = [shown(c) + " " * (w - cells_of(shown(c))) for c, w in zip(cells, widths)]
        before = " ".join(plain[:3]) + " "   # mark, id, phase
        state = plain[3]
        after = " " + " ".join(plain[4:]) + "  " + cells[-1]
        whole = fit(before + state + after, width)
        if not colour or not code or len(whole) <= len(before):
            return whole
        shown_state = whole[len(before):len(before) + len(state)]
        return before + paint(shown_state, code, colour) + whole[len(before) + len(state):]

    needing = sum(1 for r in ranks.values() if r == NEEDS_YOU)
    title = (f"taskorch {m.project}: {len(m.tasks)} tasks, "
             + (f"{needing} need{'s' if needing == 1 else ''} you, " if needing else "")
             + f"{time.strftime('%H:%M:%S')}, every {interval:g}s (Ctrl-C quits)")
    out = [paint(fit(title, width), "1", colour),
           fit(tally([v.status for v in views.values()] + list(quiet.values())), width),
           line(COLUMNS, None)]
    health = fit(status.health_line(status.health(project)), width)
    room = max(size.lines - len(out) - 1, 1)
    body = [line(r, COLOUR.get(ranks[r[1]])) for r in table[1:]]
    if len(body) > room:
        hidden = ranked[room - 1:]
        body = body[:room - 1] + [fit(f"… {len(hidden) + len(quiet)} more: " + tally(
            [views[i].status for i in hidden] + list(quiet.values())), width)]
    elif quiet:
        body = body[:room - 1] + [fit(f"… {len(quiet)} more: {tally(quiet.values())}", width)]
    return (out + body + [health])[:max(size.lines, 1)]


def _size() -> Size:
    try:
        got = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        got = shutil.get_terminal_size((100, 24))
    return Size(got.columns, got.lines)


def use_colour() -> bool:
    return (sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


def _write(text: str) -> bool:
    """False once nobody reads any more (a pipe's reader left): watching stops."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        reader_gone()
        return False


def run(project: Project, interval: float) -> None:
    """Refresh until Ctrl-C (or the reader of a pipe leaves)."""
    tty = sys.stdout.isatty()
    resized = [False]

    def on_resize(signum: int, frame_: FrameType | None) -> None:
        resized[0] = True

    previous_winch = signal.signal(signal.SIGWINCH, on_resize) if tty else None
    with Interrupts() as stop:
        if tty:
            _write("\x1b[?1049h\x1b[?25l")  # the alternate screen, no cursor
        reading = True
        while reading and not stop:
            if tty:
                lines = frame(project, _size(), use_colour(), interval)
                reading = _write("\x1b[H" + "\r\n".join("\x1b[2K" + line for line in lines)
                                 + "\x1b[J")
            else:
                lines = frame(project, Size(10**6, 10**6), False, interval)
                reading = _write("\n".join(lines) + "\n\n")
            deadline = time.monotonic() + max(interval, 0.2)
            resized[0] = False
            while reading and time.monotonic() < deadline and not resized[0] and not stop:
                time.sleep(0.05)
        if tty:
            _write("\x1b[?25h\x1b[?1049l")
    if previous_winch is not None:
        signal.signal(signal.SIGWINCH, previous_winch)
