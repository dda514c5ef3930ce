"""Per-agent signal parsers: an agent's own output, read while it runs (issue 9).

A registry typed by the `Parser` Protocol (base.py), one short module per output format, as
pre-commit keeps its languages: a profile names its format with `events: <name>`, the wrapper
makes a parser of that class per attempt, and the schema checks the name against `PARSERS`.
"""

from __future__ import annotations

from taskorch.signals.aider_text import AiderText
from taskorch.signals.base import (Parser, Signals, attempts, load, save, summed, usage,
                                   usage_text)
from taskorch.signals.claude_stream_json import ClaudeStreamJson
from taskorch.signals.codex_json import CodexJson

PARSERS: dict[str, type[Parser]] = {
    "codex-json": CodexJson,
    "claude-stream-json": ClaudeStreamJson,
    "aider-text": AiderText,
}


def parser(name: str) -> Parser:
    """A fresh parser for one attempt; KeyError for a name the schema would have refused."""
    return PARSERS[name]()


__all__ = ["PARSERS", "Parser", "Signals", "attempts", "load", "parser", "save", "summed",
           "usage", "usage_text"]
