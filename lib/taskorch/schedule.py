"""One delayed heartbeat per project, for work that falls due while no agent exits: a retry
after its backoff, a stall check, a launch that launches_per_hour held back. Without it such
work waited for cron, or forever.

This module says when the next tick is needed (`next_due`); wakeup.py makes it happen.
"""

from __future__ import annotations

from taskorch import budget, heal, wakeup
from taskorch.project import Project
from taskorch.runners import is_remote
from taskorch.state import epoch

MARGIN = 0.5   # stored times have whole seconds: wake just after, not just before


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
                times.append((now + wakeup.REMOTE_POLL, "the remote jobs' next look"))
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
