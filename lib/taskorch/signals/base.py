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
from typing import Any, Protocol

from taskorch.layout import write_atomic

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
