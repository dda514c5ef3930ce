"""Scripted agent that copies every byte typed or pasted into its terminal to a file."""

import os
import sys
import termios

out = open(sys.argv[1], "ab", buffering=0)
attrs = termios.tcgetattr(0)
attrs[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)  # raw-ish: C-c is a byte, not a signal
termios.tcsetattr(0, termios.TCSANOW, attrs)
print("echo-agent: ready", flush=True)
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    out.write(chunk)
