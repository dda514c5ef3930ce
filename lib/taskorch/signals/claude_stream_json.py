"""`claude -p --output-format stream-json --verbose` (Claude Code 2.1.332).

Measured (tests/realagents/README.md): `system`/`init` first, then `assistant` and `user`
messages, `system`/`api_retry` before each retry, and last a `result` carrying `is_error`,
`api_error_status`, `terminal_reason`, `result` (the last text), `total_cost_usd` and `usage`.
An error run's `result` says `"subtype": "success"` with `"is_error": true`: judge from
`is_error`, never from `subtype`. An AskUserQuestion call is refused in `-p` and the turn goes
on, so a question cannot be told here.
"""

from __future__ import annotations

from typing import Any

from taskorch.signals.base import JsonLines, cut

# The parts of a tool call that say what it does; the rest (file contents) stays in the events.
TOOL_SUBJECT = ("command", "file_path", "path", "pattern", "url", "description")


class ClaudeStreamJson(JsonLines):
    def event(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if kind == "system":
            return self._system(event)
        if kind == "assistant":
            return self._assistant(event.get("message"))
        if kind == "user":
            return self._tool_results(event.get("message"))
        if kind == "result":
            return self._result(event)
        return None

    def _system(self, event: dict[str, Any]) -> str | None:
        if event.get("subtype") == "init":
            return cut(f"claude {event.get('claude_code_version', '')}: started "
                       f"(model {event.get('model', '?')})")
        if event.get("subtype") == "api_retry":
            return cut(f"claude: API error {event.get('error_status')} "
                       f"({event.get('error', '')}); retry {event.get('attempt')} of "
                       f"{event.get('max_retries')}")
        return None

    def _assistant(self, message: Any) -> str | None:
        lines = []
        # An API error comes as a made-up message (model "<synthetic>"): the result names it.
        said = not (isinstance(message, dict) and message.get("model") == "<synthetic>")
        for block in _content(message):
            if block.get("type") == "text" and str(block.get("text", "")).strip():
                if said:
                    self.signals.last_message = str(block["text"])
                lines.append(cut(f"claude: {block['text']}"))
            elif block.get("type") == "tool_use":
                lines.append(cut(f"→ {block.get('name', 'tool')}: {_subject(block.get('input'))}"))
        return "\n".join(lines) or None

    def _tool_results(self, message: Any) -> str | None:
        lines = [cut(f"  tool error: {_text(block.get('content'))}") for block in _content(message)
                 if block.get("type") == "tool_result" and block.get("is_error")]
        return "\n".join(lines) or None

    def _result(self, event: dict[str, Any]) -> str:
        s = self.signals
        failed = bool(event.get("is_error")) or event.get("terminal_reason") == "api_error"
        text = str(event.get("result") or "")
        status = event.get("api_error_status")
        if failed:
            named = status is None or str(status) in text
            s.error = text if named and text else \
                f"API error {status}: {text or event.get('terminal_reason', 'the turn failed')}"
        else:
            s.error = None
            s.last_message = text or s.last_message
        s.finished = not failed
        raw = event.get("usage")
        usage: dict[str, Any] = raw if isinstance(raw, dict) else {}
        s.input_tokens = input_tokens(usage)
        s.output_tokens = int(usage.get("output_tokens") or 0)
        cost = event.get("total_cost_usd")
        s.cost_usd = float(cost) if isinstance(cost, (int, float)) else None
        ending = f"failed: {s.error}" if failed else "done"
        return cut(f"claude: {ending} ({s.input_tokens} tokens in, {s.output_tokens} out"
                   + (f", ${s.cost_usd:.4f}" if s.cost_usd is not None else "") + ")")


def input_tokens(usage: dict[str, Any]) -> int:
    """Anthropic counts cached input apart from input_tokens; all of it was read."""
    return sum((int(usage.get(k) or 0) for k in
                ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")), 0)


def _content(message: Any) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _subject(tool_input: Any) -> str:
    if not isinstance(tool_input, dict):
        return ""
    return next((str(tool_input[k]) for k in TOOL_SUBJECT if k in tool_input), "")


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")
