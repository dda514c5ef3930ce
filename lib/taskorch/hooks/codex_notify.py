"""codex's `notify` program, given for the session with `-c notify=[...]`.

codex runs it with one JSON argument when a turn completes (`agent-turn-complete`). A `-c`
override replaces the user's own `notify` for the session, so the user's program, read from
`$CODEX_HOME/config.toml`, is handed to the receiver, which runs it after recording: the user's
setup stays in force. An error turn sends nothing; the screen's `■` line says that one.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from taskorch.hooks.base import FINISHED, Heard, inputs, now
from taskorch.signals.base import Signals

# What the receiver's `--then` runs: the user's own notify program.
THEN = "--then"


class CodexNotify:
    name = "codex-notify"
    asks = False  # notify names finished turns only; dialogs are read from the screen
    works = False  # nor its tool calls: its screen's output is the progress

    def arguments(self, receiver: list[str], attempt_files: Path,
                  env: dict[str, str]) -> list[str]:
        theirs = users_notify(env)
        argv = receiver + ([THEN, json.dumps(theirs)] if theirs else [])
        # A JSON string is a valid TOML basic string: quotes, backslashes and control
        # characters are escaped the same way.
        return ["-c", "notify=[" + ",".join(json.dumps(a) for a in argv) + "]"]

    def heard(self, payload: dict[str, Any], attempt_files: Path) -> Heard | None:
        """A completed turn of the task's current turn: the one whose input holds, exactly,
        the last text taskorch gave this attempt (its prompt, or the answer or nudge it typed
        since). Two other completions must not read as the turn's end:
        - the TUI's side thread that writes the thread's title completes first, while the
          task's turn still works;
        - a turn before the last text typed, whose notify (a new process, seconds late under
          load) lands after taskorch answered from the screen: read as the current turn's end,
          its question was answered a second time while the answer was being worked on (CI)."""
        if payload.get("type") != "agent-turn-complete" or not current(payload, attempt_files):
            return None
        said = payload.get("last-assistant-message")
        return Heard(FINISHED, "agent-turn-complete", " ".join(str(said or "").split()), at=now())

    def report(self, payload: dict[str, Any], heard: Heard) -> Signals | None:
        return None  # notify carries no usage


def current(payload: dict[str, Any], attempt_files: Path) -> bool:
    """The turn took the last text taskorch gave the attempt as its input."""
    typed = inputs(attempt_files.with_name(attempt_files.name + ".hooks.jsonl"))
    if typed:
        last = typed[-1]
    else:
        try:
            last = attempt_files.with_name(attempt_files.name + ".prompt.md").read_text(
                encoding="utf-8")
        except OSError:
            return False
    messages = payload.get("input-messages")
    return isinstance(messages, list) and bool(last.strip()) and any(
        isinstance(m, str) and m.strip() == last.strip() for m in messages)


def users_notify(env: dict[str, str]) -> list[str] | None:
    """The `notify` argv of the user's codex config, if any; None when absent or unreadable
    (codex itself reports a broken config)."""
    home = Path(env.get("CODEX_HOME")
                or Path(env.get("HOME") or os.path.expanduser("~")) / ".codex")
    try:
        with open(home / "config.toml", "rb") as f:
            value = tomllib.load(f).get("notify")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if isinstance(value, list) and value and all(isinstance(a, str) for a in value):
        return value
    return None
