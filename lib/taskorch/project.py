"""Everything one doit run needs, loaded once: manifest, plan, work directory, store, runner."""

from __future__ import annotations

import shlex
from collections import Counter
from typing import Any, Collection, Iterable
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from taskorch import plan as plans, recover
from taskorch.layout import Layout, write_atomic
from taskorch.lifecycle import Event
from taskorch.manifest import Manifest
from taskorch.runners import runner_for
from taskorch.runners.base import Runner, RunnerError, project_key, session_name
from taskorch.state import Recover, Store, TaskRow

NOT_STARTED = ("pending", "blocked")


# A pending task held back by its agent profile's max_parallel or launches_per_hour (budget.py).
WAITS = "waits for its agent profile's limit: "


def tally(states: Iterable[str]) -> str:
    """'2 blocked, 3 running': how many tasks are in each state, states in name order."""
    return ", ".join(f"{n} {state}" for state, n in sorted(Counter(states).items()))


@dataclass(frozen=True)
class View:
    """A task as `doit status` and `doit launch` see it: stored row plus live gate state."""

    row: TaskRow
    status: str
    reason: str


class Project:
    def __init__(self, manifest: Manifest, plan: plans.Plan | None = None):
        self.manifest = manifest
        self.plan = plan if plan is not None else plans.build(manifest)
        self.layout = Layout(manifest.workdir)
        # (which tick, the project's usage then): budget.project_usage reads it once per tick
        self.usage_seen: tuple[tuple[int, int] | None, dict[str, Any] | None] | None = None

    @classmethod
    def load(cls, path: str | Path, store: bool = False) -> "Project":
        """From the plan cache when it holds this manifest's content (plancache.py); `store`
        creates the work directory so the cache can be written on a miss."""
        from taskorch import plancache
        return cls(*plancache.load(path, store=store))

    @cached_property
    def store(self) -> Store:
        store = Store(self.layout.state_db)
        store.seed(self.manifest.tasks, recover=self.recoverer())
        return store

    def recoverer(self) -> Recover | None:
        """How a task with no row is rebuilt from git (recover.py): only a work directory with a
        clone can hold evidence of earlier work, and tmux is asked once, only if needed."""
        if not (self.layout.clone / ".git").exists():
            return None
        live: list[set[str]] = []

        def alive(session: str) -> bool:
            if not live:
                try:
                    live.append(set(self.runner.snapshot()))
                except (RunnerError, OSError):  # unreachable: recover then says stuck, not pending
                    live.append(set())
            return session in live[0]

        return lambda task: recover.evidence(self.layout, self.manifest, task,
                                             self.session_name(task.id), alive)

    @cached_property
    def runner(self) -> Runner:
        hook = self.write_hook() if self.manifest.hook else None
        return runner_for(self.manifest, self.layout, on_exit=hook)

    def write_hook(self) -> Path:
        """The script tmux runs when an agent exits: a heartbeat, so dependents start at once."""
        manifest = self.manifest
        script = self.layout.heartbeat_hook
        text = ("#!/bin/sh\n# Written by taskorch: a heartbeat when an agent exits (tmux pane-died).\n"
                f"cd {shlex.quote(str(manifest.root))} || exit 0\n"
                f"TASKORCH_MANIFEST={shlex.quote(str(manifest.path))} exec "
                f"{shlex.quote(sys.executable)} -m doit heartbeat "
                f">> {shlex.quote(str(self.layout.heartbeat_log))} 2>&1\n")
        if not script.exists() or script.read_text() != text:
            write_atomic(script, text)
            script.chmod(0o755)
        return script

    def views(self, rows: dict[str, TaskRow] | None = None,
              only: Collection[str] | None = None,
              statuses: dict[str, str] | None = None) -> dict[str, View]:
        """Each task's state (or only those of `only`, whose rows are then all `rows` needs to
        hold when every task's status comes in `statuses`); not-started tasks are `blocked` or
        `pending` by their gates now."""
        rows = rows if rows is not None else self.store.rows()
        if statuses is None:
            statuses = {task_id: row.status for task_id, row in rows.items()}
        unfinished = self.plan.unfinished(statuses)
        out = {}
        for task in self.manifest.tasks:
            if only is not None and task.id not in only:
                continue
            row = rows[task.id]
            if row.status in NOT_STARTED:
                blockers = self.plan.blockers(task.id, statuses, unfinished)
                if blockers:
                    out[task.id] = View(row, "blocked", "; ".join(blockers))
                elif row.reason.startswith(WAITS):  # held by its profile's limit (budget.py)
                    out[task.id] = View(row, "pending", row.reason)
                else:
                    out[task.id] = View(row, "pending", "gates open; the next launch or heartbeat starts it (within max_parallel)")
            else:
                out[task.id] = View(row, row.status, row.reason)
        return out

    def record_gates(self) -> dict[str, View]:
        """Journal every not-started task whose gates opened or closed since it was last seen."""
        views = self.views()
        self.store.transitions([
            (task_id, view.status, view.reason) for task_id, view in views.items()
            if view.row.status in NOT_STARTED
            and (view.status, view.reason) != (view.row.status, view.row.reason)],
            event=Event.GATES_CHANGED)
        return views

    def startable(self) -> set[str]:
        """The tasks whose gates are open now. Gates change only when a state changes (the
        journal grows) or the manifest does; when neither has since the last look, the stored
        `pending` rows are the answer and the whole plan is not walked again, so a heartbeat's
        cost follows the running agents, not the manifest's size."""
        mark = self.layout.gates_seen
        stat = self.manifest.path.stat()
        seen = f"{self.store.last_event()}:{stat.st_mtime_ns}:{stat.st_size}"
        try:
            if mark.read_text() == seen:
                return set(self.store.rows("pending"))
        except OSError:
            pass
        views = self.record_gates()
        write_atomic(mark, f"{self.store.last_event()}:{stat.st_mtime_ns}:{stat.st_size}")
        return {task_id for task_id, view in views.items() if view.status == "pending"}

    @cached_property
    def task_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.manifest.tasks)

    def occupied(self) -> int:
        """Slots in use: running tasks, and stuck ones whose agent is still alive (it still
        holds its worktree, memory and API quota). Only tasks in the manifest count: one removed
        while it ran is stopped by the heartbeat and must not hold a slot forever."""
        rows = {i: r for i, r in self.store.rows("running", "stuck").items() if i in self.task_ids}
        # a person's task (agent: human) takes no agent's slot
        running = sum(r.status == "running" and not self.manifest.profile(
            self.manifest.task(i)).person for i, r in rows.items())
        stuck = [r.session for r in rows.values() if r.status == "stuck" and r.session]
        if not stuck:
            return running  # the usual case costs no tmux call
        try:
            panes = self.runner.snapshot()
        except RunnerError:
            return running + len(stuck)  # cannot tell: never start more than allowed
        return running + sum(1 for s in stuck if (p := panes.get(s)) is not None and not p.dead)

    def orphans(self) -> dict[str, TaskRow]:
        """Rows of tasks no longer in the manifest (removed by hand, maybe while running)."""
        if self.store.size() == len(self.task_ids):
            return {}  # every manifest task has a row (seeded), so no row is left over
        gone = [i for i in self.store.statuses() if i not in self.task_ids]  # ids only: cheap
        return {i: row for i in gone if (row := self.store.get(i)) is not None}

    def session_name(self, task_id: str) -> str:
        """Unique per work directory: `to-<8 hex of the work dir>-<id>` (runners.base)."""
        return session_name(project_key(self.layout.root), task_id)
