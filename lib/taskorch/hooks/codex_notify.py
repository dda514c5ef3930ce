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
        """A completed turn of the task's own thread. The TUI also runs a side thread that
        writes the thread's title, and it completes first, while the task's turn still works:
        only a turn whose input holds the attempt's prompt, exactly, is the task's."""
        if payload.get("type") != "agent-turn-complete" or not ours(payload, attempt_files):
            return None
        said = payload.get("last-assistant-message")
        return Heard(FINISHED, "agent-turn-complete", " ".join(str(said or "").split()), at=now())


    def report(self, payload: dict[str, Any], heard: Heard) -> Signals | None:
        return None  # notify carries no usage


def ours(payload: dict[str, Any], attempt_files: Path) -> bool:
    """The turn took the attempt's prompt, or text taskorch typed in later (an answer, a
    nudge), as its input."""
    try:
        prompt = attempt_files.with_name(attempt_files.name + ".prompt.md").read_text(
            encoding="utf-8")
    except OSError:
        prompt = ""
    ours = {t.strip() for t in (prompt, *inputs(attempt_files.with_name(
        attempt_files.name + ".hooks.jsonl"))) if t.strip()}
    messages = payload.get("input-messages")
    return isinstance(messages, list) and any(
        isinstance(m, str) and m.strip() in ours for m in messages)


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
