"""The Runner Protocol: the one seam between taskorch and where agents actually run.

Heartbeat and plan talk only to this, so tmux can be swapped for another place (a remote job
API, say) without touching them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from taskorch.errors import TaskorchError


class RunnerError(TaskorchError):
    """The runner could not be asked, or could not do what it was asked: unreachable, broken,
    or something of an agent survived being stopped. Never taken to mean an agent ended."""


def project_key(root: Path) -> str:
    """8 hex characters naming one work directory: in session names and process markers."""
    return hashlib.sha1(str(root).encode()).hexdigest()[:8]


def session_name(key: str, task_id: str) -> str:
    """`to-<key>-<id>`: unique per work directory, so projects sharing a server never adopt or
    stop each other's sessions. Task ids are 1-63 of [A-Za-z0-9_-], safe for every runner."""
    return f"to-{key}-{task_id}"


def session_prefix(key: str) -> str:
    return session_name(key, "")


@dataclass(frozen=True)
class Pane:
    """What a runner knows about one session without reading its screen."""

    session: str
    dead: bool
    exit_status: int | None  # None while alive, or when the runner missed the exit
    exit_signal: int | None
    pid: int | None
    activity: int | None  # unix time of the last output, to the runner's resolution
    # An engine's word on a job that ended with no exit status of the agent's (its node died,
    # it never ran): the attempt's reason, rather than an exit code nobody returned.
    why: str | None = None


class Runner(Protocol):
    """Every method but `attach_argv` may raise RunnerError."""

    key: str  # the work directory's project_key: its sessions are session_name(key, id)

    def start(self, session: str, argv: list[str], cwd: Path, log: Path) -> str | None:
        """Start argv (two or more elements, never a shell string) in a new session, logging
        everything it prints to `log` from the first byte. Returns the engine's id for the job,
        when it has one (`doit status` shows it), else None."""

    def snapshot(self) -> dict[str, Pane]:
        """This project's sessions (no other project's) in one cheap call; {} when nothing runs.
        Raises RunnerError when the runner cannot be asked: that is never 'no sessions'."""

    def alive(self, session: str) -> bool:
        """Whether the session's agent still runs though the snapshot does not show the session
        (a server whose socket was deleted, say): such an agent is not lost."""

    def reads_terminal(self, pane: Pane) -> bool:
        """Whether the pane's agent is blocked reading its terminal (it waits for an answer)."""

    def capture(self, sessions: list[str], lines: int = 50) -> dict[str, str]:
        """The visible screen plus `lines` of history (0: none) for each session, batched."""

    def send(self, session: str, text: str) -> None:
        """Deliver text to a live session as pasted input, never as key names."""

    def press(self, session: str, keys: tuple[str, ...]) -> None:
        """Press named keys (from agents.KEYS, never from agent output) in a live session."""

    def reap(self) -> None:
        """Ask the runner to notice exits it may have missed (tmux: SIGCHLD to the server)."""

    def stop(self, session: str) -> None:
        """End a session and every process its attempts started, and confirm they are gone; a
        session that is already gone is not an error. Raises RunnerError naming what survived."""

    def attach_argv(self, session: str) -> list[str]:
        """The command that puts a person's terminal on the session."""

    def kill_server(self) -> bool:
        """Stop every session of this project; end the server too only when it holds no other
        project's sessions. True when the server was ended."""
