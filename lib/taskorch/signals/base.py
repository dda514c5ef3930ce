"""What an agent's own output says about an attempt, and the Protocol every format's parser
follows (issue 9: signals over screens).

A parser reads the agent's standard output one line at a time, in the wrapper, while the agent
runs. For each line it returns what the pane shows instead of the raw line (a readable
transcript, so `doit attach` still shows what happens) and at the end a `Signals`: the facts the
heartbeat judges an attempt by, and the usage `doit status` adds up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Protocol

from taskorch.layout import Layout, write_atomic

USAGE = ("input_tokens", "output_tokens", "cost_usd")

# A transcript line longer than this is cut: a command's whole output or a long message would
# push everything else off the pane, and the raw events keep all of it.
LINE_WIDTH = 400


@dataclass
class Signals:
    """One attempt, as its agent reported it. None means "not reported", never zero."""

    finished: bool = False          # a clean end of the agent's turn was seen
    error: str | None = None        # why the turn failed, in the agent's words
    question: str | None = None     # a question put to the user (only where it can be told)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    last_message: str | None = None  # the agent's last words to the user

    def to_json(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Signals":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Parser(Protocol):
    """One agent's output format. A new instance per attempt; `feed` never raises on odd input
    (a line that is not the format's is shown as it is), since the agent's output must reach
    the pane whatever it is."""

    raw_suffix: str  # the raw output's file name ending: `.events.jsonl`, `.events.log`

    def feed(self, line: str) -> str | None:
        """Take one line of output (without its newline); return the pane's line, or None."""
        ...

    def result(self) -> Signals:
        """What the lines so far say."""
        ...


def cut(text: str, width: int = LINE_WIDTH) -> str:
    """One line of at most `width` characters (its indent kept): a transcript line never spans
    the pane."""
    indent = text[:len(text) - len(text.lstrip(" "))]
    line = indent + " ".join(text.split())
    return line if len(line) <= width else line[:width - 1] + "…"


def as_json(line: str) -> dict[str, Any] | None:
    """A JSON object line, or None for anything else (a warning printed among the events)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def save(path: Path, signals: Signals) -> None:
    write_atomic(path, signals.to_json())


def load(path: Path) -> Signals | None:
    """An attempt's signals, or None when its agent has no parser or the file is unreadable."""
    try:
        return Signals.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None


def attempts(layout: Layout, task_id: str, count: int) -> list[tuple[int, Signals]]:
    """(attempt, signals) for attempts 1..count that have any: those whose agent's profile
    reads its output. Kept in the run directory, beside the exit files, not in the state."""
    found = ((n, load(layout.signals_file(task_id, n))) for n in range(1, count + 1))
    return [(n, said) for n, said in found if said is not None]


def usage(reports: Iterable[Signals]) -> dict[str, Any] | None:
    """Tokens and cost of attempts added up, or None when none reported anything."""
    return summed({key: getattr(said, key) for key in USAGE} for said in reports)


def summed(figures: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """{input_tokens, output_tokens, cost_usd} added up, or None for no figures at all. A figure
    none of them gave stays None: codex reports no cost, and unknown is not $0."""
    total: dict[str, Any] = dict.fromkeys(USAGE)
    seen = False
    for figure in figures:
        seen = True
        for key in USAGE:
            if figure.get(key) is not None:
                total[key] = (total[key] or 0) + figure[key]
    return total if seen else None


def usage_text(total: dict[str, Any] | None) -> str:
    """`30,749 tokens in, 173 out, $0.1533`, saying which figure is not known."""
    figures = total or dict.fromkeys(USAGE)

    def count(key: str) -> str:
        return "?" if figures[key] is None else f"{figures[key]:,}"
    cost = "cost not reported" if figures["cost_usd"] is None else f"${figures['cost_usd']:.4f}"
    return f"{count('input_tokens')} tokens in, {count('output_tokens')} out, {cost}"


class JsonLines:
    """The shape of a JSON-lines format's parser: a line that is not a JSON object is shown as
    it is, and each object goes to `event`, which subclasses write."""

    raw_suffix = ".events.jsonl"

    def __init__(self) -> None:
        self.signals = Signals()

    def feed(self, line: str) -> str | None:
        event = as_json(line)
        if event is None:
            return cut(line) if line.strip() else None
        return self.event(event)

    def event(self, event: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def result(self) -> Signals:
        return self.signals
