"""`codex exec --json` (codex-cli 0.171): thread/turn/item events, one JSON object a line.

Measured (tests/realagents/README.md): a turn ends with `turn.completed` (with `usage`) or,
after top-level `error` events, with `turn.failed` (`error.message`). An `item.completed` whose
item type is `error` is a warning ("Model metadata for ... not found" comes first in every run),
never a failure; top-level `error` events before the end are retries ("Reconnecting... 2/5").
codex reports tokens but no cost.
"""

from __future__ import annotations

from typing import Any

from taskorch.signals.base import JsonLines, cut


class CodexJson(JsonLines):
    def event(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if kind == "turn.started":
            # The last turn decides: a new turn starts neither finished nor failed.
            self.signals.finished, self.signals.error = False, None
            return "codex: turn started"
        if kind == "turn.completed":
            self.signals.finished = True
            self._add_usage(event.get("usage"))
            return "codex: turn completed" + self._usage_note()
        if kind == "turn.failed":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            self.signals.finished = False
            self.signals.error = str(message or "the turn failed")
            return cut(f"codex: turn failed: {self.signals.error}")
        if kind == "error":  # a retry on the way, or the message turn.failed repeats
            return cut(f"codex: {event.get('message', '')}")
        if kind in ("item.started", "item.completed", "item.updated"):
            item = event.get("item")
            return self._item(kind, item) if isinstance(item, dict) else None
        return None  # thread.started and events this version does not send

    def _item(self, kind: str, item: dict[str, Any]) -> str | None:
        itype = item.get("type")
        if itype == "command_execution":
            if kind == "item.started":
                return cut(f"$ {item.get('command', '')}")
            if kind == "item.completed":
                output = str(item.get("aggregated_output") or "").strip()
                first = output.splitlines()[0] if output else ""
                return cut(f"  exit {item.get('exit_code')}" + (f": {first}" if first else ""))
            return None
        if kind != "item.completed":
            return None
        if itype == "agent_message":
            self.signals.last_message = str(item.get("text", ""))
            return cut(f"codex: {self.signals.last_message}")
        if itype == "error":  # a warning: the turn goes on (README surprise 5)
            return cut(f"codex warning: {item.get('message', '')}")
        if itype == "file_change":
            paths = [c.get("path", "") for c in item.get("changes", []) if isinstance(c, dict)]
            return cut("codex: changed " + ", ".join(paths))
        return cut(f"codex: {itype}")

    def _add_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        s = self.signals
        # input_tokens already counts the cached ones (cached_input_tokens is a part of it).
        s.input_tokens = (s.input_tokens or 0) + int(usage.get("input_tokens") or 0)
        s.output_tokens = (s.output_tokens or 0) + int(usage.get("output_tokens") or 0)

    def _usage_note(self) -> str:
        s = self.signals
        return "" if s.input_tokens is None else \
            f" ({s.input_tokens} tokens in, {s.output_tokens} out)"
