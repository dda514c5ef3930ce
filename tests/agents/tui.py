"""Scripted interactive agent: does the work, then sits at its own prompt like Codex's TUI."""

import os
import time

from taskorch import demo_agent

code = demo_agent.main([os.environ["TASKORCH_PROMPT_FILE"]])
print("\n› ", end="", flush=True)
while True:
    time.sleep(60)
