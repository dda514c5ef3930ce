"""Scripted TUI agent wedged behind a spinner, like codex or Claude Code with a hung model: the
status line moves every 0.1 s, and whatever is typed is echoed into its composer (as the real
TUIs do), then taken as a new message it 'queues' but never acts on. Everything typed is also
appended to RECORD_FILE.

usage: busy_tui.py RECORD_FILE [codex|claude]
"""

import os
import sys
import termios
import threading
import time

record = open(sys.argv[1], "ab", buffering=0)
style = sys.argv[2] if len(sys.argv) > 2 else "codex"
attrs = termios.tcgetattr(0)
attrs[3] &= ~(termios.ICANON | termios.ECHO)
termios.tcsetattr(0, termios.TCSANOW, attrs)
lock, typed, queued = threading.Lock(), bytearray(), []


def listen() -> None:
    while chunk := os.read(0, 4096):
        record.write(chunk)
        with lock:
            for byte in chunk:
                if byte in (10, 13):
                    if typed:
                        queued.append(typed.decode(errors="replace"))
                        typed.clear()
                else:
                    typed.append(byte)


def status(i: int, seconds: int) -> str:
    if style == "claude":
        return f"{'·✢✳✶✻✽'[i % 6]} Ruminating… ({seconds}s · ↓ {i * 7} tokens · esc to interrupt)"
    return f"{'•◦'[i % 2]} Working ({seconds}s • esc to interrupt)"


threading.Thread(target=listen, daemon=True).start()
start = time.time()
print(f"busy-tui: attempt {os.environ.get('TASKORCH_ATTEMPT')}", flush=True)
for i in range(10**9):
    with lock:
        lines = [f"queued: {text[:60]}" for text in queued]
        composer = "› " + (typed.decode(errors="replace")[-60:] if typed else "Ask to do anything")
    # redraw the bottom of the screen: queued messages, the status line, the composer
    sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(["busy-tui", *lines, "",
                                                  status(i, int(time.time() - start)), "",
                                                  composer]))
    sys.stdout.flush()
    time.sleep(0.1)
