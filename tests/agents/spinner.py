"""Scripted agent wedged behind a spinner: the screen changes every 0.1 s but nothing happens.
Everything typed or pasted into it is appended to RECORD_FILE (to see the nudge arrive).

usage: spinner.py RECORD_FILE
"""

import os
import sys
import termios
import threading
import time

record = open(sys.argv[1], "ab", buffering=0)
attrs = termios.tcgetattr(0)
attrs[3] &= ~(termios.ICANON | termios.ECHO)
termios.tcsetattr(0, termios.TCSANOW, attrs)


def listen() -> None:
    while chunk := os.read(0, 4096):
        record.write(chunk)


threading.Thread(target=listen, daemon=True).start()
frames, start = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏", time.time()
print(f"spinner-agent: attempt {os.environ.get('TASKORCH_ATTEMPT')}", flush=True)
for i in range(10**9):
    print(f"\r{frames[i % 10]} Working ({int(time.time() - start)}s • esc to interrupt)",
          end="", flush=True)
    time.sleep(0.1)
