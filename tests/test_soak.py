"""Soak: many tasks through to merged with scripted agents; prints throughput and peak memory.

`python -m pytest tests/test_soak.py --soak -s` runs 100 tasks at max_parallel 10; by default
(and in CI) a short version runs 20.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import pytest

from conftest import manifest, wait_for

DEMO = {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"],
        "env": {"TASKORCH_DEMO_DELAY": "0.3"}}


@pytest.mark.timeout(3600)  # the long runs; every wait inside has its own limit
def test_soak_to_merged(control, remote, request):
    size = 100 if request.config.getoption("--soak") else 12
    files = [f"src/m{i % (size // 3)}.py" for i in range(size)]  # hot files: chains of ~3
    tasks = [{"id": f"s{i}", "title": f"soak {i}", "files": [files[i]]} for i in range(size)]
    control.write(manifest([tasks[: size // 2], tasks[size // 2:]], repo=str(remote), agent="d",
                           agents={"d": DEMO}, max_parallel=10, merge="auto",
                           retry_backoff_seconds=0))
    started = time.monotonic()
    control.doit("launch")

    def beat() -> bool:
        subprocess.run([sys.executable, "-m", "doit", "heartbeat"], cwd=control.path,
                       capture_output=True, timeout=120)
        return all(s["status"] == "merged" for s in control.peek().values())

    wait_for(beat, timeout=60 + size * 6, interval=0.1, what=f"{size} tasks to merge")
    minutes = (time.monotonic() - started) / 60
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"\nsoak: {size} tasks merged in {minutes * 60:.0f} s: {size / minutes:.1f} tasks/min; "
          f"peak memory of one orchestrator process (doit + taskorch): {peak_kib / 1024:.0f} MiB")
    assert peak_kib < 512 * 1024
