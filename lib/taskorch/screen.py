"""Read an agent's screen: strip what moves without meaning, fingerprint it, match patterns.

A spinner keeps a wedged agent's screen changing (DESIGN.md), so progress is judged on the
screen with spinner glyphs, elapsed-time counters, token counts and progress bars removed.
"""

from __future__ import annotations

import hashlib
import re

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
SPINNER = re.compile(r"[\u2800-\u28ff·✢✳✶✻✽✺*•◦●○◐◓◑◒◴◷◶◵⣾⣽⣻⢿⡿⣟⣯⣷|/\\-](?=\s)")
MOVING = re.compile(
    r"\(?\b\d+(?:\.\d+)?\s*(?:ms|s|sec|secs|seconds|m|min|h)\b(?:\s*\d+\s*s\b)?\)?"  # 12s, 1m 04s
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"                                           # 10:42:07
    r"|[↑↓]?\s*\d+(?:\.\d+)?k?\s*tokens"                                       # ↓ 1.2k tokens
    r"|\[[≡─#=>\-. ]{3,}\]"                                                    # [─≡────] scanners
    r"|\b\d{1,3}%")                                                            # 42%


def clean(screen: str) -> str:
    """The screen as text: escapes removed, trailing blanks and empty tail lines dropped."""
    lines = [line.rstrip() for line in ANSI.sub("", screen).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def fingerprint(screen: str) -> str:
    """Equal for two screens that differ only by spinners, timers and counters."""
    still = MOVING.sub("", SPINNER.sub("", clean(screen)))
    return hashlib.sha1(re.sub(r"[ \t]+", " ", still).encode()).hexdigest()[:16]


def tail(screen: str, lines: int = 15) -> str:
    return "\n".join(clean(screen).splitlines()[-lines:])


def find(patterns: tuple[str, ...], text: str) -> str | None:
    """The first line of `text` that one of the patterns matches, or None."""
    for pattern in patterns:
        match = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
        if match:
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            return text[start:end if end >= 0 else None].strip()[:200]
    return None
