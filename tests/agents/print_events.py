"""Scripted agent that acts as `codex exec --json` or `claude -p --output-format stream-json`:
reads its prompt on stdin, works like the demo agent (edits the listed files and commits), then
prints a recorded event stream and exits with the code given (default 0), whatever the events
say.

usage: print_events.py EVENTS_FILE [EXIT_CODE]
"""

import contextlib
import os
import sys
from pathlib import Path

from taskorch import demo_agent

sys.stdin.read()  # as codex exec does with `-`
with contextlib.redirect_stdout(sys.stderr):  # stdout carries events only
    if demo_agent.main([os.environ["TASKORCH_PROMPT_FILE"]]) != 0:
        sys.exit(2)
sys.stdout.write(Path(sys.argv[1]).read_text(encoding="utf-8"))
sys.stdout.flush()
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
