"""Usage limits (issue 9, part 8): what a project or a task may spend, and how fast a profile's
agents may start.

- `budget: {usd, tokens}` at the top level covers every task's attempts; in a task, its own.
  Usage is read from the attempts' signals files (runs/<id>/attempt-N.signals.json), the same
  figures `doit status` adds up; tokens are input + output. Once a budget is spent, no launch
  and no retry starts for what it covers: the task goes `stuck` (Event.BUDGET_SPENT) with the
  reason. A running attempt is never stopped for it.
- A figure an agent did not report (codex gives no cost; a profile without `events` gives
  nothing) counts as 0: the budget cannot see it, and `doit status`'s health line says so.
- A profile's `max_parallel` and `launches_per_hour` hold a task `pending`, with the reason,
  until the heartbeat finds room. Launches are counted in the work directory's `launches` file;
  with the hook on, a delayed tick is asked for when the hour has room again (schedule.py).
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable

from taskorch import signals
from taskorch.agents import AgentProfile
from taskorch.manifest import Task
from taskorch.project import WAITS, Project
from taskorch.state import TaskRow

HOUR = 3600.0


def task_usage(project: Project, task_id: str) -> dict[str, Any] | None:
    row = project.store.get(task_id)
    return row_usage(project, row) if row else None


def row_usage(project: Project, row: TaskRow) -> dict[str, Any] | None:
    if not row.attempts:
        return None
    return signals.usage(said for _, said in signals.attempts(project.layout, row.id,
                                                             row.attempts))


def project_usage(project: Project) -> dict[str, Any] | None:
    """Every task's usage added up, read once per tick: each launch and retry asks, and reading
    every attempt's signals file each time made a tick that starts 50 agents read them 50 times.
    A launch adds no usage (an attempt reports when it ends). An attempt that ends during the
    tick is counted by the next one, which its exit starts (the hook): the tick's end rewrites
    heartbeat.last, so a cache from before it is not used again, even by a rerun in this process."""
    mark = tick_mark(project)
    if project.usage_seen is None or project.usage_seen[0] != mark:
        project.usage_seen = (mark, summed_usage(project))
    return project.usage_seen[1]


def summed_usage(project: Project) -> dict[str, Any] | None:
    rows = project.store.rows()  # one query, not one per task
    return signals.summed(u for t in project.manifest.tasks
                          if t.id in rows and (u := row_usage(project, rows[t.id])))


def tick_mark(project: Project) -> tuple[int, int] | None:
    """Which tick last ended: heartbeat.last is replaced (a new file) at the end of each."""
    try:
        found = project.layout.last_tick.stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def tokens(usage: dict[str, Any] | None) -> int:
    usage = usage or {}
    return (usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0)


def over(limit: dict[str, Any] | None, usage: dict[str, Any] | None, what: str) -> str | None:
    """'$5.12 of $5.00 (project)' when `usage` reached `limit`, else None."""
    if not limit:
        return None
    cost = (usage or {}).get("cost_usd") or 0.0
    if "usd" in limit and cost >= limit["usd"]:
        return f"${cost:.2f} of ${limit['usd']:.2f} ({what})"
    if "tokens" in limit and tokens(usage) >= limit["tokens"]:
        return f"{tokens(usage):,} tokens of {limit['tokens']:,} ({what})"
    return None


def spent(project: Project, task: Task) -> str | None:
    """The reason `task` may not start another attempt, or None while its budgets last."""
    found = (over(task.budget, task_usage(project, task.id), f"task {task.id}")
             if task.budget else None)  # no files read for a budget that is not there
    if found is None and project.manifest.budget:
        found = over(project.manifest.budget, project_usage(project), "project")
    if found is None:
        return None
    return (f"budget spent: {found}; raise `budget` in the manifest, then "
            f"`doit retry {task.id}`")


def blind(project: Project) -> list[str]:
    """Tasks with attempts whose budgeted figures their agent did not report (counted as 0)."""
    out = []
    for task in project.manifest.tasks:
        keys = {**(project.manifest.budget or {}), **(task.budget or {})}
        if not keys:
            continue
        row = project.store.get(task.id)
        if row is None or not row.attempts:
            continue
        reports = [s for _, s in signals.attempts(project.layout, task.id, row.attempts)]
        unseen = len(reports) < row.attempts or any(
            ("usd" in keys and s.cost_usd is None)
            or ("tokens" in keys and (s.input_tokens is None or s.output_tokens is None))
            for s in reports)
        if unseen:
            out.append(task.id)
    return out


def launches(project: Project, at: float) -> list[tuple[float, str]]:
    """(epoch, profile) of the agents started in the hour before `at`."""
    try:
        text = project.layout.launches.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        stamp, _, name = line.partition(" ")
        try:
            when = float(stamp)
        except ValueError:
            continue
        if at - when < HOUR:
            out.append((when, name))
    return out


def record_launch(project: Project, profile: str, at: float | None = None) -> None:
    """Count one agent started; lines older than an hour are dropped as it is rewritten."""
    at = time.time() if at is None else at
    kept = [f"{when:.3f} {name}" for when, name in launches(project, at)]
    path = project.layout.launches
    tmp = path.with_name(path.name + f".{os.getpid()}")
    tmp.write_text("".join(f"{line}\n" for line in [*kept, f"{at:.3f} {profile}"]),
                   encoding="utf-8")
    os.replace(tmp, path)


def room_at(project: Project, profiles: Iterable[AgentProfile], at: float) -> dict[str, float]:
    """When each of `profiles` whose launches_per_hour is used up at `at` may start an agent
    again: once enough of its launches have left the sliding hour. One read of the record."""
    limits = {p.name: p.launches_per_hour for p in profiles if p.launches_per_hour}
    if not limits:
        return {}
    recent: dict[str, list[float]] = {}
    for when, name in launches(project, at):
        if name in limits:
            recent.setdefault(name, []).append(when)
    # more launches than the limit (it was lowered): room once all but limit-1 have left
    return {name: sorted(stamps)[len(stamps) - limits[name]] + HOUR
            for name, stamps in recent.items() if len(stamps) >= limits[name]}


def running_of(project: Project, profile: str, rows: Iterable[Any]) -> int:
    m = project.manifest
    return sum(1 for r in rows if r.id in project.task_ids
               and m.profile(m.task(r.id)).name == profile)


def limited(project: Project, task: Task) -> str | None:
    """Why `task`'s profile may not start an agent now, or None."""
    profile = project.manifest.profile(task)
    if profile.max_parallel:
        rows = project.store.rows("running").values()
        count = running_of(project, profile.name, rows)
        if count >= profile.max_parallel:
            return (f"{WAITS}{count} of max_parallel {profile.max_parallel} of agent "
                    f"{profile.name} running")
    if profile.launches_per_hour:
        at = time.time()
        recent = [when for when, name in launches(project, at) if name == profile.name]
        if len(recent) >= profile.launches_per_hour:
            wait = HOUR - (at - min(recent))
            return (f"{WAITS}{len(recent)} of launches_per_hour {profile.launches_per_hour} "
                    f"of agent {profile.name} in the last hour; room in {wait / 60:.0f} min")
    return None
