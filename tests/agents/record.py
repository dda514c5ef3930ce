"""Scripted agent: records exactly what it was given, then works like the demo agent.

usage: record.py OUTDIR (file PROMPT_FILE | argv PROMPT_TEXT | stdin)
Writes OUTDIR/<task>.received (the prompt bytes as received) and OUTDIR/<task>.argv.json.
"""

import json
import os
import sys
from pathlib import Path

from taskorch import demo_agent

out, mode = Path(sys.argv[1]), sys.argv[2]
task = os.environ["TASKORCH_TASK_ID"]
if mode == "file":
    received = Path(sys.argv[3]).read_bytes()
elif mode == "argv":
    received = sys.argv[3].encode()
else:
    received = sys.stdin.buffer.read()
out.mkdir(parents=True, exist_ok=True)
(out / f"{task}.received").write_bytes(received)
(out / f"{task}.argv.json").write_text(json.dumps(sys.argv))
sys.exit(demo_agent.main([os.environ["TASKORCH_PROMPT_FILE"]]))
