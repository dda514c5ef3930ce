"""Ctrl-C for the commands that run until it (`doit status --watch`, `doit logs -f`): a flag the
loop reads, not an exception.

KeyboardInterrupt can surface at any bytecode. CPython even runs a pending handler inside
`signal.signal()` before it changes the handler, so a second Ctrl-C typed while the first one
was being handled escaped from the very line that meant to ignore it, and Python then ended by
SIGINT with no exit status (CI, twice). A handler that only counts has no such window.
"""

from __future__ import annotations

import signal
from types import FrameType, TracebackType


class Interrupts:
    """Counts SIGINTs while in force. On leaving, SIGINT stays ignored: these commands exit next,
    and a Ctrl-C typed while they do must not turn a clean stop into a traceback."""

    def __init__(self) -> None:
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    def __enter__(self) -> Interrupts:
        signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        # Any SIGINT still pending is handed to _on_sigint by this very call, before it ignores.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
