"""Scripted agent for a worker node that dies under its job: attempt 1 waits for a release file
(meanwhile the test kills its node, and it lives on as an orphan), then writes its file; later
attempts write at once. The file says which attempt wrote it, so the test can tell whose work
was merged. The job around it commits the file and pushes it to its attempt's ref.

    outlive.py FILE RELEASE
"""

import os
import sys
import time
from pathlib import Path

path, release = Path(sys.argv[1]), Path(sys.argv[2])
attempt = os.environ["TASKORCH_ATTEMPT"]
print(f"outlive-agent: attempt {attempt} started", flush=True)
deadline = time.monotonic() + 300
while attempt == "1" and not release.exists() and time.monotonic() < deadline:
    time.sleep(0.1)
path.write_text(f"attempt {attempt}\n")
print(f"outlive-agent: attempt {attempt} wrote {path}", flush=True)
