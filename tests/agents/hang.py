"""Scripted agent that prints one line and then works forever (until its session is killed)."""

import os
import time

print(f"hang-agent: started {os.environ.get('TASKORCH_TASK_ID')}", flush=True)
while True:
    time.sleep(60)
