"""One heartbeat: observe -> classify -> heal -> verify -> advance. Idempotent, safe to run at any
time, any number of times, concurrently.

Observation is cheap on purpose (DESIGN.md): one snapshot call for every session, screens
captured in batches and only for panes whose output moved since the last look, branch heads read
from ref files. Everything a tick learns is written before it acts, and every action is its own
transaction, so a tick killed anywhere leaves state the next tick can use.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from taskorch import cleanup, heal, lock, screen
from taskorch.classify import Exit, Observation, Verdict, classify, reading
from taskorch.deliver import deliver, push_early
from taskorch.git import GitError, branch_head
from taskorch.launch import LAUNCH_ERRORS, LaunchError, launch
from taskorch.manifest import Task
from taskorch.project import Project, tally
from taskorch.runners.base import Pane
from taskorch.runners.tmux import TmuxError
from taskorch.state import TaskRow, epoch, stamp
from taskorch.verify import check

WATCHED = ("running", "stuck")
RERUN_ROUNDS = 5


def run(project: Project) -> list[str]:
    """Tick under the lock. A heartbeat that finds the lock held asks the holder to tick once
    more (bursts of exits coalesce without losing one) and returns at once."""
    layout = project.layout
    lines: list[str] = []
    for _ in range(RERUN_ROUNDS):
        try:
            with lock.hold(layout.lock, wait=None):
                layout.rerun.unlink(missing_ok=True)
                lines += tick(project)
        except lock.Busy:
            layout.rerun.touch()
            try:  # the holder may have finished between our first try and the touch
                with lock.hold(layout.lock, wait=None):
                    layout.rerun.unlink(missing_ok=True)
                    lines += tick(project)
            except lock.Busy:
                return lines + ["heartbeat: another heartbeat is running; it will tick again "
                                "for this one"]
        if not layout.rerun.exists():
            break
    return lines


@dataclass
class Look:
    """What one tick saw of one task."""

    task: Task
    row: TaskRow
    obs: Observation
    fingerprint: str | None


def tick(project: Project) -> list[str]:
    started = time.monotonic()
    rows = project.store.rows(*WATCHED)
    watched = [t for t in project.manifest.tasks if t.id in rows]
    lines: list[str] = []
    looks = observe(project, watched, rows, lines)
    for look in looks:
        lines += act(project, look)
    lines += retry(project, time.time())
    lines += push_early(project)
    lines += deliver(project, time.time())
    if project.manifest.cleanup == "on-merge":
        lines += [cleanup.remove_task(project, row) for row in cleanup.merged(project)]
    lines += advance(project)
    summary = tally(project.store.statuses().values())
    lines.append(f"heartbeat: {summary} ({time.monotonic() - started:.2f} s)")
    return lines


def observe(project: Project, watched: list[Task], rows: dict[str, TaskRow],
            lines: list[str]) -> list[Look]:
    """Look at every watched task with as few tmux calls as possible; record what was seen."""
    at = time.time()
    sessions = {rows[t.id].session for t in watched if rows[t.id].session}
    panes = snapshot(project, lines)
    if any(p.dead and p.exit_status is None and p.exit_signal is None
           for name, p in panes.items() if name in sessions):
        project.runner.reap()  # Debian's tmux can miss SIGCHLD: make it look again (DESIGN.md)
        panes = snapshot(project, lines)
    moved = [row.session for row in (rows[t.id] for t in watched)
             if (pane := panes.get(row.session or "")) and not pane.dead
             and (pane.activity != row.activity or row.screen is None)]
    # The visible screen is what shows a question or an idle prompt; history would double the
    # bytes read per tick for nothing.
    screens = project.runner.capture(moved, lines=0) if moved else {}
    looks, updates = [], {}
    for task in watched:
        row = rows[task.id]
        look, updates[task.id] = look_at(project, task, row, panes.get(row.session or ""),
                                         screens.get(row.session or ""), at)
        looks.append(look)
    project.store.update(updates)
    return looks


def look_at(project: Project, task: Task, row: TaskRow, pane: Pane | None, text: str | None,
            at: float) -> tuple[Look, dict]:
    """One task's observation, and the fields to store so the next tick can compare."""
    fingerprint = screen.fingerprint(text) if text is not None else row.screen
    says = reading(project.manifest.profile(task), text) if text is not None else (row.says or "")
    head = branch_head(project.layout.clone, row.branch) if row.branch else None
    progressed = fingerprint != row.screen or head != row.head
    last = at if progressed else (epoch(row.last_progress) or at)
    nudged = None if progressed else epoch(row.nudged_at)
    fields: dict = {"screen": fingerprint, "says": says, "head": head,
                    "last_progress": stamp(last), "nudged_at": row.nudged_at if nudged else None}
    if pane is not None and pane.activity is not None:
        # tmux's activity has 1 s resolution: output later in the same second as our capture
        # must not be taken for what we saw, so look again next tick.
        fields["activity"] = pane.activity if at - pane.activity >= 1.5 else pane.activity - 1
    obs = Observation(pane=pane, exit=exit_of(project, row, pane), says=says,
                      steady=fingerprint is not None and fingerprint == row.screen,
                      idle_seconds=at - max(last, nudged or 0))
    return Look(task, row, obs, fingerprint), fields


def snapshot(project: Project, lines: list[str]) -> dict[str, Pane]:
    try:
        return project.runner.snapshot()
    except TmuxError as exc:
        lines.append(f"heartbeat: tmux: {exc}")
        return {}


def exit_of(project: Project, row: TaskRow, pane: Pane | None) -> Exit | None:
    """How the current attempt ended: the wrapper's exit file first, then tmux's record."""
    path = project.layout.exit_file(row.id, row.attempts)
    try:
        data = json.loads(path.read_text())
        return Exit(int(data["code"]), data.get("signal"))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    if pane is not None and pane.dead and (pane.exit_status is not None or pane.exit_signal):
        return Exit(pane.exit_status if pane.exit_status is not None else 128 + pane.exit_signal,
                    pane.exit_signal)
    return None


def act(project: Project, look: Look) -> list[str]:
    task, row, obs = look.task, look.row, look.obs
    if row.status == "stuck" and obs.pane is None and obs.exit is None:
        return []  # stopped by hand, or stuck with its session gone: a person decides
    profile = project.manifest.profile(task)
    verdict = classify(obs, profile, project.manifest.stall_minutes * 60)
    try:
        return heal_one(project, task, row, verdict, look)
    except (*LAUNCH_ERRORS, LaunchError, GitError) as exc:
        return [f"{task.id}: heartbeat could not act on '{verdict.reason}': {exc}"]


def heal_one(project: Project, task: Task, row: TaskRow, verdict: Verdict, look: Look) -> list[str]:
    store = project.store
    if verdict.kind in ("exited", "idle"):
        worktree = Path(row.worktree) if row.worktree else project.layout.worktree(task.id)
        base = row.base_commit or f"origin/{project.manifest.base}"
        result = check(task, worktree, base, project.manifest.verify_timeout_minutes)
        if result.ok:
            return [heal.complete(project, task, row, result)]
        return [heal.fail(project, task, row, f"{verdict.reason}, but {result.reason}",
                          look.obs.exit, result.output)]
    if verdict.kind in ("failed", "lost"):
        return [heal.fail(project, task, row, verdict.reason, look.obs.exit)]
    if verdict.kind == "waiting":
        reply = next((a for a in project.manifest.profile(task).answers
                      if re.search(a.match, verdict.question, re.IGNORECASE)), None)
        if reply is None:
            if row.status != "stuck" or row.reason != verdict.reason:
                store.transition(task.id, "stuck", verdict.reason)
                return [f"{task.id}: stuck: {verdict.reason} (not on the agent's answer list)"]
            return []
        if row.answered == look.fingerprint:
            return []  # answered this very screen already; give the agent time
        return [heal.answer(project, task, row, reply, verdict.question, look.fingerprint)]
    if row.status == "stuck":
        store.transition(task.id, "running", "the question on its screen was answered")
        return [f"{task.id}: running again (the question was answered)"]
    if verdict.kind == "stalled":
        if row.nudged_at is None:
            return [heal.nudge(project, task, row, look.obs.idle_seconds)]
        return [heal.fail(project, task, row, f"{verdict.reason} after a nudge")]
    return []


def retry(project: Project, at: float) -> list[str]:
    """Restart failed tasks whose backoff has passed, while slots are free."""
    lines = []
    rows = project.store.rows("error")
    for task in (t for t in project.manifest.tasks if t.id in rows):
        row = rows[task.id]
        if not heal.retry_due(project, row, at):
            continue
        if project.store.count("running") >= project.manifest.max_parallel:
            lines.append(f"{task.id}: retry waits for a free slot")
            break
        try:
            lines.append(heal.restart(project, task, row))
        except LAUNCH_ERRORS as exc:
            lines.append(f"{task.id}: restart failed: {exc}")
    return lines


def advance(project: Project) -> list[str]:
    """Launch what the gates now allow, longest chains first, up to max_parallel."""
    views = project.record_gates()
    free = project.manifest.max_parallel - project.running(views)
    lines = []
    for task_id in project.plan.launch_order():
        if free <= 0:
            break
        if views[task_id].status != "pending":
            continue
        try:
            outcome = launch(project, task_id)
        except LaunchError as exc:
            lines.append(f"{task_id}: launch failed: {exc}")
            continue
        if outcome.launched:
            free -= 1
        lines.append(outcome.message)
    return lines
