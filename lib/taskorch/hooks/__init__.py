"""Interactive agents' own hooks, as signals (issue 9): a registry typed by the `AgentHooks`
Protocol (base.py), one short module per agent, as signals/ keeps its output parsers. A profile
names its wiring with `hooks: <name>`; launch asks it for the argv that makes the agent call
the receiver (receive.py), and the heartbeat reads the attempt's record (base.read)."""

from __future__ import annotations

import sys
from pathlib import Path

from taskorch.hooks import base
from taskorch.hooks.base import (ASKING, FACTS, FAILED, FINISHED, WORKING, AgentHooks, Heard,
                                 Record, read, typed)
from taskorch.hooks.claude_code import ClaudeCode
from taskorch.hooks.codex_notify import CodexNotify

HOOKS: dict[str, AgentHooks] = {wiring.name: wiring for wiring in (ClaudeCode(), CodexNotify())}


def arguments(name: str, record: Path, beat: Path | None, env: dict[str, str]) -> list[str]:
    """The agent's extra argv for one attempt: its hooks call the receiver, which appends to
    `record` and, for a turn's end or a question, starts the heartbeat script `beat`."""
    receiver = [sys.executable, "-m", "taskorch.hooks.receive", name, str(record),
                str(beat) if beat else "-"]
    return HOOKS[name].arguments(receiver, base.attempt_files(record), env)


__all__ = ["ASKING", "FACTS", "FAILED", "FINISHED", "HOOKS", "WORKING", "AgentHooks", "Heard",
           "Record", "arguments", "read", "typed"]
