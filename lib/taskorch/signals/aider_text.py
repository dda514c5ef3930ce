"""aider's plain output (aider-chat 0.86.2 with `--no-pretty`).

aider has no event stream, and it exits 0 after an API failure (a 429 for 85 s, then it gives
up) and after a question alike (tests/realagents/README.md). So the failure has to be read from
its words: a `litellm.<Kind>Error: ...` block, or its own explanation ("rate limited you",
"servers are down", "not able to authenticate you"), then "Retrying in N seconds..." while it
still tries. A later `Tokens: ... sent, ... received.` line means a reply came through after
all. The token counts there are aider's rounded ones (2.6k); the cost is its session total.
"""

from __future__ import annotations

import re

from taskorch.signals.base import LINE_WIDTH, Signals

ERROR_START = re.compile(r"^litellm\.(\w+)(?::|$)")
EXPLANATION = re.compile(r"rate limited you|servers are down|not able to authenticate you",
                         re.IGNORECASE)
RETRYING = re.compile(r"^Retrying in [\d.]+ seconds")
TOKENS = re.compile(r"^Tokens: ([\d.]+)(k?) sent\b.*?([\d.]+)(k?) received\."
                    r"(?:.*?\$([\d.]+) session)?")
# litellm's exception classes are named after the HTTP status they stand for.
STATUS = {"RateLimitError": 429, "InternalServerError": 500, "ServiceUnavailableError": 503,
          "AuthenticationError": 401, "PermissionDeniedError": 403, "NotFoundError": 404,
          "BadRequestError": 400}


class AiderText:
    raw_suffix = ".events.log"

    def __init__(self) -> None:
        self.signals = Signals()
        self._block: list[str] | None = None   # the error lines being read, until a blank line
        self._error: str | None = None         # the last error no reply came after
        self._replied = False
        self._said: str | None = None          # the last prose line, for last_message

    def feed(self, line: str) -> str | None:
        text = line.rstrip()
        start = ERROR_START.match(text)
        if start or (EXPLANATION.search(text) and self._block is None):
            status = STATUS.get(start.group(1)) if start else None
            self._block = [f"HTTP {status}:"] if status else []
            self._extend(text)
        elif self._block is not None and text and not RETRYING.match(text):
            self._extend(text)
        else:
            self._block = None
            self._read(text)
        # Shown as aider printed it (code keeps its spaces), only cut; the log keeps it whole.
        return text if len(text) <= LINE_WIDTH else text[:LINE_WIDTH - 1] + "…"

    def _extend(self, text: str) -> None:
        assert self._block is not None
        self._block.append(text)
        self._error = " ".join(self._block)

    def _read(self, text: str) -> None:
        tokens = TOKENS.match(text)
        if tokens:
            self._count(tokens)
        elif text and not RETRYING.match(text) and not text.startswith(("```", "<<<<<<<",
                                                                         "=======", ">>>>>>>")):
            self._said = text

    def _count(self, tokens: re.Match[str]) -> None:
        s = self.signals
        s.input_tokens = (s.input_tokens or 0) + _number(tokens.group(1), tokens.group(2))
        s.output_tokens = (s.output_tokens or 0) + _number(tokens.group(3), tokens.group(4))
        if tokens.group(5):
            s.cost_usd = float(tokens.group(5))  # the session's total so far
        s.last_message = self._said
        self._replied, self._error = True, None  # a reply came through after the errors

    def result(self) -> Signals:
        self.signals.error = self._error
        self.signals.finished = self._replied and self._error is None
        return self.signals


def _number(digits: str, thousands: str) -> int:
    return round(float(digits) * (1000 if thousands else 1))
