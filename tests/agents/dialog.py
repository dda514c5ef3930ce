"""Scripted agent showing a dialog (Claude Code's AskUserQuestion, as 2.1.332 draws it) and
waiting on it for ever. Anything typed into it is appended to RECORD_FILE: a nudge pasted here
would become the answer.

usage: dialog.py RECORD_FILE
"""

import os
import sys
import termios
import time

record = open(sys.argv[1], "ab", buffering=0)
attrs = termios.tcgetattr(0)
attrs[3] &= ~(termios.ICANON | termios.ECHO)
termios.tcsetattr(0, termios.TCSANOW, attrs)
print("""❯ Append a line.

● I need a decision first.

────────────────────────────────────────────────────────────
 ☐ Approach

Should I append the line to notes.txt or create a new file?

❯ 1. Append
     Append one line to notes.txt
  2. New file
     Create a separate file
  3. Type something.
────────────────────────────────────────────────────────────
  4. Chat about this

Enter to select · ↑/↓ to navigate · Esc to cancel""", end="", flush=True)
while True:
    chunk = os.read(0, 4096)
    if not chunk:
        time.sleep(60)
    record.write(chunk)
