"""Text from outside on the operator's terminal: issue titles, agent logs, reasons read off
agents' screens.

An escape sequence in an issue title or in an agent's output can set the clipboard (OSC 52),
retitle the window or clear the screen when printed raw. Commands print through `echo`, which
keeps the words and takes that power away; error messages use `escaped` to stay on one line.
"""

from __future__ import annotations

import re

from taskorch.screen import ANSI

# C0 and C1 controls and DEL; \x9b alone is a CSI on some terminals. Then the invisible
# characters that reorder or hide text (bidi embeddings, overrides and isolates, zero-width
# characters, the Arabic letter mark, the byte order mark) and the Unicode line and paragraph
# separators: a title can otherwise read differently on screen from what it is.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def _visible(char: str) -> str:
    return repr(char)[1:-1] if char <= "\xff" else f"\\u{ord(char):04x}"


def escaped(text: str, keep: str = "") -> str:
    """Every control character not in `keep` written as a visible escape such as \\x1b, \\n or
    \\u202e."""
    return CONTROL.sub(lambda m: m.group() if m.group() in keep else _visible(m.group()), text)


def shown(text: str) -> str:
    """ANSI sequences removed (their colours are noise here), any other control character but
    tab and newline escaped."""
    return escaped(ANSI.sub("", text), keep="\t\n")


def echo(text: str, flush: bool = False) -> None:
    print(shown(text), flush=flush)
