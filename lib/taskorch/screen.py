"""Read an agent's screen: strip what moves without meaning, fingerprint it, match patterns.

A spinner keeps a wedged agent's screen changing (DESIGN.md), so progress is judged on the
screen with spinner glyphs, elapsed-time counters, token counts and progress bars removed.

A question is judged from the prompt at the bottom (`bottom`): the last few lines with content,
read from the conversation's column only. Claude Code opens a diff panel at the right of every
row (`│` at one column, at 160x45), and its text would otherwise end every line.
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


# The prompt at the bottom: this many lines with content (rules and blank lines not counted).
PROMPT_LINES = 6
BORDER = "│"
RULE = re.compile(r"^[\s─━═╌┄▔▁-]*$")


def rows(screen: str) -> list[str]:
    """The screen's lines, cleaned, with a right-hand panel cut off (see `panel_column`)."""
    lines = clean(screen).splitlines()
    column = panel_column(lines)
    if column is None:
        return lines
    out = []
    for line in lines:
        near = [i for i, c in enumerate(line) if c == BORDER and column - 6 <= i <= column + 1]
        out.append(line[:near[-1]].rstrip() if near else line)
    return out


def panel_column(lines: list[str]) -> int | None:
    """The column of a side panel's border: a `│` at the same column on most of the rows that
    reach it (at least 5). Rows with wide characters may put it a little to the left."""
    counts: dict[int, int] = {}
    for line in lines:
        for i, c in enumerate(line):
            if c == BORDER:
                counts[i] = counts.get(i, 0) + 1
    if not counts:
        return None
    column, seen = max(counts.items(), key=lambda item: (item[1], item[0]))
    reaching = sum(1 for line in lines if len(line) > column)
    return column if seen >= 5 and seen * 2 >= reaching else None


def bottom(screen: str, lines: int = PROMPT_LINES) -> str:
    """The prompt at the bottom: the last `lines` lines with content, panel cut off. A question
    above them has scrolled up into history."""
    content = [line for line in rows(screen) if line.strip() and not RULE.match(line)]
    return "\n".join(content[-lines:])


def fingerprint(screen: str) -> str:
    """Equal for two screens that differ only by spinners, timers and counters."""
    still = MOVING.sub("", SPINNER.sub("", clean(screen)))
    # blanks at a line's end: `✽ Thinking… (16s)` less its timer is `Thinking… ` (Claude 2.1.332)
    return hashlib.sha1(re.sub(r"[ \t]+(?=\n|$)", "", re.sub(r"[ \t]+", " ", still))
                        .encode()).hexdigest()[:16]


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
