"""Scripted agent that asks a question, records the answer, and finishes if it was `expected`.

usage: ask.py RECORD_FILE "QUESTION" EXPECTED
"""

import os
import sys

from taskorch import demo_agent

record, question, expected = sys.argv[1], sys.argv[2], sys.argv[3]
print("ask-agent: thinking", flush=True)
print(question, end=" ", flush=True)
answer = sys.stdin.readline().strip()
with open(record, "a") as f:
    f.write(answer + "\n")
if answer != expected:
    print(f"ask-agent: error: got {answer!r}", flush=True)
    sys.exit(4)
sys.exit(demo_agent.main([os.environ["TASKORCH_PROMPT_FILE"]]))
