"""The delayed heartbeat: one detached sleeper per project (`python -m taskorch.wakeup`) that
runs, at its due time, the same heartbeat-hook script an agent's exit runs. `layout.wakeup`
holds that time: a new request replaces it only when earlier, and a sleeper whose time was
taken, or whose project is gone, exits without a tick.

What falls due is schedule.py's to say. This module knows only how to be woken, so launch can
ask for a look at remote jobs without importing the heartbeat's steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from taskorch.layout import Layout, write_atomic
from taskorch.project import Project
from taskorch.state import stamp

GRACE = 10.0   # a due time this far past means its sleeper died (a reboot): replace it
POLL = 2.0     # how often a sleeper checks that it is still wanted
# A job on Slurm, Ray or Batch ends where no hook of ours runs: while one runs, the heartbeat
# looks again this often, so a dependent waits at most this long plus one tick, not for cron.
REMOTE_POLL = float(os.environ.get("TASKORCH_REMOTE_POLL") or 10.0)


def pending(layout: Layout) -> float | None:
    try:
        return float(layout.wakeup.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def request(project: Project, due: float, why: str) -> str | None:
    """Make sure a heartbeat runs at `due`; say so when this asked for a new one."""
    layout, now = project.layout, time.time()
    current = pending(layout)
    if current is not None and current <= due and current > now - GRACE:
        return None  # one already fires no later than this
    mark = f"{due:.3f}"
    write_atomic(layout.wakeup, mark + "\n")
    hook = project.write_hook()
    subprocess.Popen([sys.executable, "-m", "taskorch.wakeup", str(layout.wakeup), mark,
                      str(hook), str(project.manifest.path)],
                     start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return f"heartbeat: next tick at {stamp(due)[11:19]} UTC, for {why}"


def wanted(wakeup: Path, mark: str, manifest: Path) -> bool:
    try:
        return wakeup.read_text().strip() == mark and manifest.exists()
    except OSError:
        return False


def sleep_then_beat(wakeup: Path, mark: str, hook: Path, manifest: Path) -> int:
    while (left := float(mark) - time.time()) > 0:
        time.sleep(min(left, POLL))
        if not wanted(wakeup, mark, manifest):
            return 0  # an earlier one took over, or the project was removed
    wakeup.unlink(missing_ok=True)  # first, so the tick it starts can ask for the next one
    os.execv(hook, [str(hook)])
    return 0


if __name__ == "__main__":
    sys.exit(sleep_then_beat(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])))
