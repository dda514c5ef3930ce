"""Scripted agent: attempt 1 fails with a distinctive error; a later attempt succeeds only if its
prompt carries that error text (so the retry prompt must include the previous failure)."""

import os
import sys
from pathlib import Path

from taskorch import demo_agent

ERROR = "XYZZY-42: the widget registry is missing"
prompt = Path(os.environ["TASKORCH_PROMPT_FILE"]).read_text()
if os.environ["TASKORCH_ATTEMPT"] == "1":
    print(f"error: {ERROR}", flush=True)
    sys.exit(1)
if ERROR not in prompt:
    print("fail-once-agent: the retry prompt did not say what went wrong", flush=True)
    sys.exit(2)
sys.exit(demo_agent.main([os.environ["TASKORCH_PROMPT_FILE"]]))
