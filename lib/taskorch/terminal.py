"""Text from outside on the operator's terminal: issue titles, agent logs, reasons read off
agents' screens.

An escape sequence in an issue title or in an agent's output can set the clipboard (OSC 52),
retitle the window or clear the screen when printed raw. Commands print through `echo`, which
keeps the words and takes that power away.
"""

from __future__ import annotations

import re

from taskorch.screen import ANSI

# C0 and C1 controls and DEL, but not tab and newline; \x9b alone is a CSI on some terminals.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """ANSI sequences removed (their colours are noise here), any other control character written
    as a visible escape such as \\x1b."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", ANSI.sub("", text))


def echo(text: str, flush: bool = False) -> None:
    print(shown(text), flush=flush)
