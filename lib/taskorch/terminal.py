"""Text from outside on the operator's terminal: issue titles, agent logs, reasons read off
agents' screens.

An escape sequence in an issue title or in an agent's output can set the clipboard (OSC 52),
retitle the window or clear the screen when printed raw. Commands print through `echo`, which
keeps the words and takes that power away; error messages use `escaped` to stay on one line.
"""

from __future__ import annotations

import re

from taskorch.screen import ANSI

# C0 and C1 controls and DEL; \x9b alone is a CSI on some terminals.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escaped(text: str, keep: str = "") -> str:
    """Every control character not in `keep` written as a visible escape such as \\x1b or \\n."""
    return CONTROL.sub(lambda m: m.group() if m.group() in keep else repr(m.group())[1:-1], text)


def shown(text: str) -> str:
    """ANSI sequences removed (their colours are noise here), any other control character but
    tab and newline escaped."""
    return escaped(ANSI.sub("", text), keep="\t\n")


def echo(text: str, flush: bool = False) -> None:
    print(shown(text), flush=flush)
