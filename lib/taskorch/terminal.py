"""Text from outside on the operator's terminal: issue titles, agent logs, reasons read off
agents' screens.

An escape sequence in an issue title or in an agent's output can set the clipboard (OSC 52),
retitle the window or clear the screen when printed raw. Commands print through `echo`, which
keeps the words and takes that power away; error messages use `escaped` to stay on one line.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import sys
from types import FrameType

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


def echo(text: str, flush: bool = True) -> None:
    """Print untrusted text with its terminal controls escaped. Always flushed (see `out`);
    `flush` stays for the callers that ask for it."""
    out(shown(text))


def out(text: str) -> None:
    """Print text that is safe as it is (JSON escapes its own controls). Flushed at once, so a
    reader that left (`doit status | head -1`) is noticed here rather than at exit."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        reader_gone()


def reader_gone() -> None:
    """The rest of the output goes nowhere, quietly; the command itself carries on, since a
    launch or heartbeat cut short by `| head` would leave its work half done."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _flush_at_exit() -> None:
    # Output still buffered at exit (a verb's own print) would otherwise end in "Exception
    # ignored ... BrokenPipeError" when the reader has gone.
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("\ntaskorch: interrupted\n")
    raise SystemExit(130)  # unwinds like an exception: locks released, transactions rolled back


def calm_exits() -> None:
    """Ctrl-C ends a command with one line and exit status 130, not a traceback; a closed
    pipe ends its output quietly."""
    signal.signal(signal.SIGINT, _interrupted)
    atexit.register(_flush_at_exit)
