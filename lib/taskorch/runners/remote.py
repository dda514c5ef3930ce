"""What every remote runner (Slurm, Ray, Batch) shares: its agents run elsewhere, as jobs with no
terminal, and their output ends up in the task's log file here, which stands for the screen.

A subclass names its engine and implements start, snapshot, stop and kill_server; the rest of
the Runner Protocol is answered here once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from taskorch.runners.base import Pane, RunnerError


class RemoteRunner:
    remote = True  # agents run elsewhere: their work comes back through the attempt's ref
    engine = "remote"  # the engine's name, in messages
    # The task's log grows with a running job's output (Slurm writes it on the shared file
    # system): its mtime is the pane's activity, and a log that stops moving is a stall. An
    # engine that hands the output over only at the job's end shows no progress to judge.
    live = False

    def __init__(self, key: str, log_of: Callable[[str], Path]) -> None:
        self.key = key
        self.log_of = log_of  # a session's log file, where its jobs' output is kept

    def alive(self, session: str) -> bool:
        return False  # a job the engine does not list is not running

    def activity(self, session: str) -> int | None:
        """When the session's log last grew, for a `live` engine; None otherwise."""
        if not self.live:
            return None
        try:
            return int(self.log_of(session).stat().st_mtime)
        except OSError:
            return None

    def reads_terminal(self, pane: Pane) -> bool:
        return False  # a job has no terminal

    def capture(self, sessions: list[str], lines: int = 50) -> dict[str, str]:
        """The end of each session's log: what a screen would show."""
        out = {}
        for session in sessions:
            try:
                text = self.log_of(session).read_text(errors="replace")
            except OSError:
                continue
            out[session] = "\n".join(text.splitlines()[-(40 + lines):])
        return out

    def send(self, session: str, text: str) -> None:
        raise RunnerError(f"a {self.engine} job takes no input")

    def press(self, session: str, keys: tuple[str, ...]) -> None:
        raise RunnerError(f"a {self.engine} job takes no input")

    def reap(self) -> None:
        pass  # engines do not miss exits the way tmux does

    def attach_argv(self, session: str) -> list[str]:
        return ["tail", "-f", str(self.log_of(session))]
