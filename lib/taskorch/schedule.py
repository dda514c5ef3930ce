"""One delayed heartbeat per project, for work that falls due while no agent exits: a retry
after its backoff, a stall check, a launch that launches_per_hour held back. Without it such
work waited for cron, or forever.

The pending heartbeat is a detached sleeper (`python -m taskorch.schedule`) that runs the same
heartbeat-hook script an agent's exit runs. `layout.wakeup` holds its due time: a new request
replaces it only when earlier, and a sleeper whose time was taken, or whose project is gone,
exits without a tick.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from taskorch import budget, heal
from taskorch.layout import Layout, write_atomic
from taskorch.project import Project
from taskorch.runners import is_remote
from taskorch.state import epoch, stamp

GRACE = 10.0   # a due time this far past means its sleeper died (a reboot): replace it
POLL = 2.0     # how often a sleeper checks that it is still wanted
MARGIN = 0.5   # stored times have whole seconds: wake just after, not just before
# A job on Slurm, Ray or Batch ends where no hook of ours runs: while one runs, the heartbeat
# looks again this often, so a dependent waits at most this long plus one tick, not for cron.
REMOTE_POLL = float(os.environ.get("TASKORCH_REMOTE_POLL") or 10.0)


def pending(layout: Layout) -> float | None:
    try:
        return float(layout.wakeup.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def next_due(project: Project, now: float) -> tuple[float, str] | None:
    """The earliest time something will need a tick, and what: a retry's backoff ending, a
    failed push's backoff ending, a running agent reaching the stall limit, or a profile's
    launches_per_hour having room again for a task it holds back."""
    stall = project.manifest.stall_minutes * 60
    times: list[tuple[float, str]] = []
    retries: dict[str, float] = {}
    remote = is_remote(project.runner)
    for task_id, row in project.store.rows("error", "complete", "running").items():
        if task_id not in project.task_ids:
            continue
        if row.status == "running":
            since = max(epoch(row.last_progress) or now, epoch(row.nudged_at) or 0)
            times.append((since + stall, f"{task_id}'s stall check"))
            if remote:  # no exit of a job elsewhere starts a heartbeat here: look again soon
                times.append((now + REMOTE_POLL, "the remote jobs' next look"))
        elif row.retry_at and (row.status == "complete" or heal.budget_left(project, row) > 0):
            times.append((epoch(row.retry_at) or now, f"{task_id}'s retry"))
            if row.status == "error":  # a retry starts an agent: its profile's limit holds it
                retries[task_id] = epoch(row.retry_at) or now
    times += held(project, retries, now)
    future = [(at + MARGIN, why) for at, why in times if at + MARGIN > now]
    return min(future) if future else None


def held(project: Project, retries: dict[str, float], now: float) -> list[tuple[float, str]]:
    """When the pending tasks and the retries (task: due time) that launches_per_hour holds back
    may start: no agent's exit need come to wake the heartbeat then."""
    manifest = project.manifest
    if not any(p.launches_per_hour for p in manifest.agents.values()):
        return []  # the usual manifest: no limit, nothing more to read
    starts = {task_id: now for task_id, status in project.store.statuses().items()
              if status == "pending" and task_id in project.task_ids}
    starts.update(retries)
    profiles = {task_id: manifest.profile(manifest.task(task_id)) for task_id in starts}
    room = budget.room_at(project, profiles.values(), now)  # the launches record, read once
    return [(max(start, room[profiles[task_id].name]),
             f"{task_id}'s launch (launches_per_hour of agent {profiles[task_id].name})")
            for task_id, start in starts.items() if profiles[task_id].name in room]


def request(project: Project, due: float, why: str) -> str | None:
    """Make sure a heartbeat runs at `due`; say so when this asked for a new one."""
    layout, now = project.layout, time.time()
    current = pending(layout)
    if current is not None and current <= due and current > now - GRACE:
        return None  # one already fires no later than this
    mark = f"{due:.3f}"
    write_atomic(layout.wakeup, mark + "\n")
    hook = project.write_hook()
    subprocess.Popen([sys.executable, "-m", "taskorch.schedule", str(layout.wakeup), mark,
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
