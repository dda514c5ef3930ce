"""Claude Code's hooks, through a settings file passed for the session (`--settings FILE`).

Claude merges the hooks of every settings source, so the user's own hooks, permissions and login
stay in force; this file only adds ours. Events (2.1.332, tests/realagents/README.md, "Hooks"):
`Stop` ends a turn, `StopFailure` ends one on an API error, `Notification` and an
`AskUserQuestion` tool call ask a person, and tool calls and prompts mean work goes on.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from taskorch.hooks.base import ASKING, FAILED, FINISHED, WORKING, Heard, now
from taskorch.layout import write_atomic
from taskorch.signals.base import Signals
from taskorch.signals.claude_stream_json import input_tokens

# Hooks the turn's outcome depends on run before Claude goes on (and take ~0.1 s); the tool
# events only feed the stall clock, so Claude need not wait for them.
SYNC_EVENTS = ("Stop", "StopFailure", "Notification", "UserPromptSubmit", "PermissionRequest")
ASYNC_EVENTS = ("PreToolUse", "PostToolUse")
TIMEOUT_SECONDS = 10
# Notification types that mean a person is needed now. `idle_prompt` only repeats what `Stop`
# said a minute earlier.
ASKS = ("permission_prompt", "elicitation_dialog", "elicitation_url_dialog", "agent_needs_input",
        "worker_permission_prompt")


class ClaudeCode:
    name = "claude-code"
    asks = True  # AskUserQuestion, PermissionRequest, Notification(permission_prompt)
    works = True  # PreToolUse, PostToolUse: its banner and footer redraw for 20 s when hung

    def arguments(self, receiver: list[str], attempt_files: Path,
                  env: dict[str, str]) -> list[str]:
        settings = attempt_files.with_name(attempt_files.name + ".settings.json")
        write_atomic(settings, json.dumps(self.settings(shlex.join(receiver)), indent=2))
        return ["--settings", str(settings)]

    @staticmethod
    def settings(command: str) -> dict[str, Any]:
        def hook(event: str) -> dict[str, Any]:
            entry: dict[str, Any] = {"type": "command", "command": command,
                                     "timeout": TIMEOUT_SECONDS}
            if event in ASYNC_EVENTS:
                entry["async"] = True
            return {"matcher": "*", "hooks": [entry]} if event in ASYNC_EVENTS else \
                {"hooks": [entry]}
        return {"hooks": {event: [hook(event)] for event in SYNC_EVENTS + ASYNC_EVENTS}}

    def heard(self, payload: dict[str, Any], attempt_files: Path) -> Heard | None:
        event = str(payload.get("hook_event_name", ""))
        if event == "Stop":
            return Heard(FINISHED, event, text(payload.get("last_assistant_message")), at=now())
        if event == "StopFailure":  # `error` is a kind (server_error); the message says more
            said, kind = text(payload.get("last_assistant_message")), text(payload.get("error"))
            details = text(payload.get("error_details"))
            why = "; ".join(t for t in (said or kind, details) if t)
            return Heard(FAILED, event, why or "the turn ended on an API error", at=now())
        if event == "Notification":
            kind = str(payload.get("notification_type", ""))
            return Heard(ASKING, event, text(payload.get("message")) or kind, at=now()) \
                if kind in ASKS else None
        if event in ("PreToolUse", "PermissionRequest") and \
                payload.get("tool_name") == "AskUserQuestion":
            return Heard(ASKING, event, question(payload.get("tool_input")), at=now())
        if event == "PermissionRequest":
            return Heard(ASKING, event, f"permission to use {text(payload.get('tool_name'))}",
                         at=now())
        if event in ("PreToolUse", "PostToolUse"):
            return Heard(WORKING, event, text(payload.get("tool_name")), at=now())
        if event == "UserPromptSubmit":  # our own prompt or nudge: not the agent's progress
            return Heard(WORKING, event, progress=False, prompt=True, at=now())
        return None

    def report(self, payload: dict[str, Any], heard: Heard) -> Signals | None:
        if heard.fact not in (FINISHED, FAILED):
            return None
        used = transcript_usage(payload.get("transcript_path"))
        return Signals(finished=heard.fact == FINISHED,
                       error=heard.detail if heard.fact == FAILED else None,
                       input_tokens=used[0] if used else None,
                       output_tokens=used[1] if used else None,
                       last_message=text(payload.get("last_assistant_message")) or None)


def transcript_usage(path: Any) -> tuple[int, int] | None:
    """(input, output) tokens of the session's transcript: each assistant message once (Claude
    writes a line per content block, each with the message's usage). No cost is written there."""
    try:
        lines = Path(str(path)).read_text(encoding="utf-8", errors="replace").splitlines()
    except (OSError, ValueError):
        return None
    seen: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("message") if isinstance(entry, dict) else None
        if entry.get("type") == "assistant" and isinstance(message, dict) and \
                isinstance(message.get("usage"), dict):
            seen[str(message.get("id") or len(seen))] = message["usage"]
    if not seen:
        return None
    return (sum(input_tokens(u) for u in seen.values()),
            sum(int(u.get("output_tokens") or 0) for u in seen.values()))


def question(tool_input: Any) -> str:
    """The questions an AskUserQuestion call puts, with their options."""
    asked = tool_input.get("questions") if isinstance(tool_input, dict) else None
    if not isinstance(asked, list):
        return "a question (AskUserQuestion)"
    parts = []
    for item in asked:
        if isinstance(item, dict):
            options = [text(o.get("label")) for o in item.get("options") or []
                       if isinstance(o, dict)]
            parts.append(text(item.get("question")) + (f" [{' / '.join(options)}]"
                                                       if options else ""))
    return " ".join(parts) or "a question (AskUserQuestion)"


def text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""
