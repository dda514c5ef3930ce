"""A task's current attempt's last lines, escape-free, rendered as `doit logs` renders them.

The page shows what the agent's terminal showed, never the raw bytes: an agent's output is
untrusted, and its escape sequences mean nothing in a browser anyway. Only the end of the
attempt's bytes is rendered, so a long run costs the same as a short one.
"""

from __future__ import annotations

from taskorch import attemptlog
from taskorch.commands.logs import rendered
from taskorch.layout import Layout
from taskorch.terminal import shown

LINES = 40
TAIL_BYTES = 65536  # the end of the attempt rendered; the first line may be a partial redraw


def tail(layout: Layout, task_id: str, attempts: int, lines: int = LINES) -> list[str]:
    """The last `lines` lines of attempt `attempts` (the current one); [] before any."""
    if attempts < 1:
        return []
    raw = attemptlog.read(layout, task_id, attempts, attempts)[-TAIL_BYTES:]
    return [shown(line) for line in rendered(raw)[-lines:]]
