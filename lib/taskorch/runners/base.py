"""The Runner Protocol: the one seam between taskorch and where agents actually run.

Heartbeat and plan talk only to this, so tmux can be swapped for another place (a remote job
API, say) without touching them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Pane:
    """What a runner knows about one session without reading its screen."""

    session: str
    dead: bool
    exit_status: int | None  # None while alive, or when the runner missed the exit
    exit_signal: int | None
    pid: int | None
    activity: int | None  # unix time of the last output, to the runner's resolution


class Runner(Protocol):
    def start(self, session: str, argv: list[str], cwd: Path, log: Path) -> None:
        """Start argv (two or more elements, never a shell string) in a new session, logging
        everything it prints to `log` from the first byte."""

    def snapshot(self) -> dict[str, Pane]:
        """Every session's state in one cheap call; {} when nothing runs."""

    def capture(self, sessions: list[str], lines: int = 50) -> dict[str, str]:
        """The visible screen plus `lines` of history (0: none) for each session, batched."""

    def send(self, session: str, text: str) -> None:
        """Deliver text to a live session as pasted input, never as key names."""

    def press(self, session: str, keys: tuple[str, ...]) -> None:
        """Press named keys (from agents.KEYS, never from agent output) in a live session."""

    def reap(self) -> None:
        """Ask the runner to notice exits it may have missed (tmux: SIGCHLD to the server)."""

    def stop(self, session: str) -> None:
        """End a session; a session that is already gone is not an error."""
