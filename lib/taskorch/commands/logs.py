"""`doit logs <id> [--attempt N] [-f]`: one attempt's output as the terminal showed it.

The log is the pane's raw byte stream with every attempt appended (attemptlog.py finds one
attempt's part). It is rendered by excerpt.Terminal: carriage-return redraws and cursor moves
applied, every escape sequence dropped, any other control character shown escaped, so nothing
an agent printed can act on the reader's terminal.

With -f, lines are printed as they settle. In a pipe a line settles once the cursor has left
it; on a terminal, once it has scrolled off the agent's screen (a TUI may still redraw it),
and the screen below it is shown live, redrawn in place with taskorch's own cursor moves. It
ends with Ctrl-C or when the attempt ends (its agent exited, a later attempt began, or its
session is gone), after printing the rest.
"""

from __future__ import annotations

import codecs
import re
import shutil
import sys
import time
import unicodedata
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch import attemptlog
from taskorch.commands.usage import Verb
from taskorch.excerpt import Terminal
from taskorch.interrupts import Interrupts
from taskorch.project import Project
from taskorch.runners.base import RunnerError
from taskorch.terminal import out, reader_gone, shown

POLL = 0.25          # seconds between reads of the log while following
LIVE_EVERY = 0.5     # seconds between looks at whether the attempt still runs
DRAIN = 0.7          # seconds after the agent's exit for its last output to reach the log
HOLD = 4096          # the longest unfinished escape sequence kept back for the next read
# An escape sequence cut off at the end of what has been read so far.
UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[P_^X][^\x1b]*|[ -/]*)\Z")


def _lines(cells: list[list[str]]) -> list[str]:
    return ["".join(c for c in line if c).rstrip() for line in cells]


def _trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells (wide characters take two), with an ellipsis."""
    cells = 0
    for i, char in enumerate(text):
        cells += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if cells > width:
            return text[:max(i - 1, 0)] + "…"
    return text


def rendered(raw: bytes) -> list[str]:
    term = Terminal()
    term.feed(raw.decode("utf-8", errors="replace"))
    return _trimmed(term.text())


def _parse(ids: list[str], attempt: int, follow: bool) -> tuple[list[str], int, bool] | str:
    """doit hands everything after the id over as positionals: `logs t1 --attempt 2 -f`."""
    rest: list[str] = []
    args = iter(ids)
    for arg in args:
        if arg in ("-f", "--follow"):
            follow = True
        elif arg == "--attempt" or arg.startswith("--attempt="):
            value = arg.partition("=")[2] if "=" in arg else next(args, "")
            if not value.isdigit() or int(value) < 1:
                return f"logs: --attempt takes a number from 1, not {value!r}"
            attempt = int(value)
        else:
            rest.append(arg)
    return rest, attempt, follow


class Follower:
    """Feeds the log's new bytes to a Terminal and prints what settles."""

    def __init__(self, tty: bool) -> None:
        self.term = Terminal()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.held = ""
        self.tty = tty
        self.printed = 0  # lines of the main screen printed for good
        self.footer = 0   # rows of the live screen drawn last (terminal only)

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self.held + self.decoder.decode(data, final=final)
        cut = UNFINISHED.search(text[-HOLD:]) if not final else None
        self.held = text[len(text) - len(text[-HOLD:]) + cut.start():] if cut else ""
        self.term.feed(text[:len(text) - len(self.held)])

    def _main(self) -> tuple[list[list[str]], int, int]:
        """The main screen's lines, cursor row and top, also while the alternate one shows."""
        if self.term.main is not None:
            lines, row, _, top = self.term.main
            return lines, row, top
        return self.term.lines, self.term.row, self.term.top

    def show(self) -> None:
        lines, row, top = self._main()
        settled = _lines(lines[self.printed:top if self.tty else row])
        live: list[str] = []
        if self.tty:
            screen = self.term.lines if self.term.main is not None else lines
            live = _trimmed(_lines(screen[top if self.term.main is None else 0:]))
        self._draw(settled, live)
        self.printed += len(settled)

    def finish(self) -> None:
        self.feed(b"", final=True)
        rest = _trimmed(self.term.text()[self.printed:])  # text() also leaves the alt screen
        self._draw(rest, [])
        self.printed += len(rest)

    def _draw(self, settled: list[str], live: list[str]) -> None:
        if not settled and not live and not self.footer:
            return
        size = shutil.get_terminal_size((100, 24))
        live = live[-max(size.lines - 2, 1):]
        text = "".join(shown(line) + "\n" for line in settled)
        if self.tty:
            clear = f"\r\x1b[{self.footer}A\x1b[J" if self.footer else ""
            text = clear + text + "".join(fit(shown(line), size.columns - 1) + "\n"
                                          for line in live)
            self.footer = len(live)
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            reader_gone()


def _live(project: Project, task_id: str, attempt: int) -> bool:
    """Whether attempt `attempt` may still print: it is the task's current one, its agent has
    not exited, and its session is there."""
    row = project.store.get(task_id)
    if row is None or row.attempts != attempt or project.layout.exit_file(task_id, attempt).exists():
        return False
    if not row.session:
        return False
    try:
        pane = project.runner.snapshot().get(row.session)
    except RunnerError:
        return True  # cannot tell now (a Ctrl-C also ends the runner's own call): look again
    return pane is not None and not pane.dead


def follow(project: Project, task_id: str, attempt: int) -> None:
    """Print the attempt's log as it grows, until its agent is gone (and its last output read)
    or Ctrl-C."""
    layout = project.layout
    follower = Follower(sys.stdout.isatty())
    offset = attemptlog.start(layout, task_id, attempt)
    looked, ending = 0.0, None
    with Interrupts() as stop:
        while not stop and (ending is None or time.monotonic() < ending):
            if ending is None and time.monotonic() - looked >= LIVE_EVERY:
                looked = time.monotonic()
                if not _live(project, task_id, attempt):
                    ending = time.monotonic() + DRAIN  # its last output may still be on its way
            row = project.store.get(task_id)
            last = attemptlog.end(layout, task_id, attempt, row.attempts if row else attempt)
            try:
                with open(layout.log(task_id), "rb") as f:
                    if f.seek(0, 2) < offset:
                        offset = 0  # the log was replaced
                    f.seek(offset)
                    data = f.read() if last is None else f.read(max(last - offset, 0))
            except OSError:
                data = b""
            offset += len(data)
            follower.feed(data)
            follower.show()
            time.sleep(POLL)
        follower.finish()


def logs(project: Project, ids: list[str], attempt: int, follow_: bool) -> TaskFailed | None:
    parsed = _parse(ids, attempt, follow_)
    if isinstance(parsed, str):
        return TaskFailed(parsed)
    ids, attempt, follow_ = parsed
    if len(ids) != 1:
        return TaskFailed("usage: doit logs <task id> [--attempt N] [-f]")
    task_id = ids[0]
    if task_id not in project.task_ids:
        return TaskFailed(f"logs: no task '{task_id}' in {project.manifest.path.name}")
    row = project.store.get(task_id)
    current = row.attempts if row else 0
    if current == 0:
        return TaskFailed(f"logs: {task_id} has not started yet; it has no output")
    attempt = attempt or current
    if attempt > current:
        return TaskFailed(f"logs: {task_id} has had {current} attempt(s); there is no "
                          f"attempt {attempt}")
    if follow_:
        follow(project, task_id, attempt)
        return None
    lines = rendered(attemptlog.read(project.layout, task_id, attempt, current))
    if lines:
        out(shown("\n".join(lines)))
    return None


VERB = Verb(
    "logs", "Print one attempt's output as its terminal showed it, escape-free (-f follows it).",
    params=({"name": "attempt", "long": "attempt", "type": int, "default": 0, "metavar": "N",
             "help": "which attempt (1, 2, ...; default: the current one)"},
            {"name": "follow", "long": "follow", "short": "f", "type": bool, "default": False,
             "help": "keep printing its output as it comes, until Ctrl-C or the attempt ends"}),
    positional="<task id>",
    details="The task's log holds every attempt's output, appended; this prints one attempt's "
            "part, with redraws and cursor moves applied and every escape sequence removed, "
            "so nothing the agent printed can act on your terminal. With -f, a line shows once "
            "it is final; on a terminal the agent's current screen shows live below them. It "
            "reads files only: it starts, stops and changes nothing.",
    examples=("doit logs t1", "doit logs t1 --attempt 1", "doit logs t1 -f"))


def creator(project: Project) -> Callable[[], dict]:
    def task_logs() -> dict:
        return VERB.task(actions=[lambda ids, attempt, follow: logs(project, ids, attempt,
                                                                    follow)])

    task_logs.__doc__ = VERB.summary
    return task_logs
