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
from typing import Any, Callable

from taskorch import (budget, cleanup, cloneconfig, excerpt, heal, hooks, lock, results, schedule,
                      screen, seen, signals, verifyjob, wakeup)
from taskorch.classify import (Exit, Observation, Verdict, classify, last_words, overruled,
                               question_in, reading)
from taskorch.deliver import deliver, push_early
from taskorch.git import GitError, branch_head
from taskorch.launch import LAUNCH_ERRORS, LaunchError, launch
from taskorch.manifest import Task
from taskorch.project import Project, tally
from taskorch.runners import is_remote, sees_output
from taskorch.runners.base import Pane, RunnerError
from taskorch.layout import write_atomic
from taskorch.lifecycle import Event
from taskorch.notify import journal as notifications
from taskorch.state import TaskRow, epoch, stamp
from taskorch.verify import Result, passed, prepare

WATCHED = ("running", "stuck")
REMOVED = ("removed from the manifest while it ran; its agent was stopped "
           "(worktree, branch and log kept)")
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
            try:  # the holder may have finished between our first try and the touch, or
                # been `doit status` probing the lock for an instant
                with lock.hold(layout.lock, wait=0.2):
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
    lines: list[str] = []
    for name, step in STEPS:
        lines += guarded(name, step, project)
    summary = tally(project.store.statuses().values())
    lines.append(f"heartbeat: {summary} ({time.monotonic() - started:.2f} s)")
    try:  # so `doit status` can tell a heartbeat that stopped from one with nothing to do
        write_atomic(project.layout.last_tick, f"{stamp(time.time())} {summary}\n")
    except OSError as exc:
        lines.append(failure("record", exc))
    return lines


def guarded(name: str, step: Callable[..., list[str] | str], *args: Any) -> list[str]:
    """Run one step of the tick, or one task's part of it. An exception becomes one line, so one
    bad step or task never stops the rest (Dagster's run monitor works the same way)."""
    try:
        out = step(*args)
    except Exception as exc:
        return [failure(name, exc)]
    return [out] if isinstance(out, str) else out


def failure(name: str, exc: Exception) -> str:
    detail = " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"heartbeat: {name} failed: {type(exc).__name__}: {detail}"


def release_removed(project: Project) -> list[str]:
    """A task taken out of the manifest while its agent ran: stop the agent, so that nobody's
    work goes on unseen and it gives its slot back. Its worktree, branch and log stay."""
    return [line for task_id, row in project.orphans().items()
            if row.status in WATCHED and row.reason != REMOVED
            for line in guarded(f"release {task_id}", release_one, project, row)]


def release_one(project: Project, row: TaskRow) -> str:
    if row.session:
        project.runner.stop(row.session)
    project.store.transition(row.id, "stuck", REMOVED, event=Event.REMOVED_FROM_MANIFEST,
                             retry_at=None)
    return f"{row.id}: {REMOVED}"


def watch(project: Project) -> list[str]:
    """Observe every running or stuck task, then act on each on its own."""
    rows = project.store.rows(*WATCHED)
    watched = [t for t in project.manifest.tasks if t.id in rows and not working_person(
        project, t, rows[t.id])]
    lines: list[str] = []
    for look in observe(project, watched, rows, lines):
        lines += guarded(f"act {look.task.id}", act, project, look)
    return lines


def clean(project: Project) -> list[str]:
    if project.manifest.cleanup != "on-merge":
        return []
    return [line for row in cleanup.merged(project)
            for line in guarded(f"cleanup {row.id}", cleanup.remove_task, project, row)]


def wake_later(project: Project) -> list[str]:
    """With the hook on, nothing but cron would wake the heartbeat for work that falls due with
    no agent exiting (a retry's backoff, a stall check): ask for one delayed heartbeat."""
    if not project.manifest.hook:
        return []
    due = schedule.next_due(project, time.time())
    if due is None:  # nothing will fall due: a sleeper still pending sees this and ends
        project.layout.wakeup.unlink(missing_ok=True)
        return []
    line = wakeup.request(project, *due)
    return [line] if line else []


def working_person(project: Project, task: Task, row: TaskRow) -> bool:
    """A person's task (`agent: human`) that is not done yet: nothing to look at, nudge or
    restart. `doit done` writes its attempt's exit file; from then on it is judged as an agent
    that exited 0 (verify, then delivery)."""
    return (project.manifest.profile(task).person and row.status == "running"
            and not project.layout.exit_file(task.id, row.attempts).exists())


def observe(project: Project, watched: list[Task], rows: dict[str, TaskRow],
            lines: list[str]) -> list[Look]:
    """Look at every watched task with as few tmux calls as possible; record what was seen."""
    at = time.time()
    sessions = {rows[t.id].session for t in watched if rows[t.id].session}
    panes = snapshot(project, lines)
    if panes is not None and any(p.dead and p.exit_status is None and p.exit_signal is None
                                 for name, p in panes.items() if name in sessions):
        project.runner.reap()  # Debian's tmux can miss SIGCHLD: make it look again (DESIGN.md)
        panes = snapshot(project, lines)
    if panes is None:
        return []  # a runner that cannot be asked says nothing about any agent: act on none
    if is_remote(project.runner):  # ended jobs' work and exit, as a local exit leaves them
        lines += guarded("results", results.collect, project, watched, rows, panes)
    moved = [row.session for row in (rows[t.id] for t in watched)
             if (pane := panes.get(row.session or "")) and not pane.dead
             and (pane.activity != row.activity or row.screen is None)]
    # The visible screen is what shows a question or an idle prompt; history would double the
    # bytes read per tick for nothing.
    screens = project.runner.capture(moved, lines=0) if moved else {}
    looks, updates = [], {}
    for task in watched:
        row = rows[task.id]
        try:  # one task that cannot be looked at must not blind the tick to the others
            look, updates[task.id] = look_at(project, task, row, panes.get(row.session or ""),
                                             screens.get(row.session or ""), at)
        except Exception as exc:
            lines.append(failure(f"observe {task.id}", exc))
            continue
        looks.append(look)
    project.store.update(updates)
    return looks


def look_at(project: Project, task: Task, row: TaskRow, pane: Pane | None, text: str | None,
            at: float) -> tuple[Look, dict]:
    """One task's observation, and the fields to store so the next tick can compare.

    Only real progress resets the stall clock: a new commit, or new lines of the agent's own
    output for a profile that reads it (`events`). For a screen-only profile a changed screen
    (spinners and timers removed) counts too, but not once it has been nudged: the nudge's own
    echo, and whatever the agent redraws in answer to it, would reset the clock and nudge it
    for ever. From the nudge on, only a commit ends its grace period (another stall_minutes);
    after that it is restarted.
    """
    profile = project.manifest.profile(task)
    fingerprint = screen.fingerprint(text) if text is not None else row.screen
    says = reading(profile, text) if text is not None else (row.says or "")
    head = branch_head(project.layout.clone, row.branch) if row.branch else None
    if head and head != row.head:
        try:  # kept under a ref, so a later reset cannot lose it unseen
            seen.keep(project.layout.clone, task.id, head)
        except GitError:
            pass  # the next new head is kept; observing must go on
    wiring = hooks.HOOKS[profile.hooks] if profile.hooks else None
    if profile.events:
        moved = events_since(project, row, profile.events, epoch(row.last_progress))
    elif wiring and wiring.works:
        moved = False  # its hooks report each step; its screen redraws when hung too
    else:
        moved = fingerprint != row.screen and not row.nudged_at
    record = hooks.read(project.layout.hooks_file(row.id, row.attempts)) if profile.hooks \
        else hooks.Record(None, None)
    moved = moved or heard_since(record, epoch(row.last_progress))
    progressed = moved or head != row.head
    # min: a last progress in the future means the clock went back; count from now, not then
    last = at if progressed else min(epoch(row.last_progress) or at, at)
    nudged = None if progressed else epoch(row.nudged_at)
    fields: dict = {"screen": fingerprint, "says": says, "head": head,
                    "last_progress": stamp(last), "nudged_at": row.nudged_at if nudged else None}
    if pane is not None and pane.activity is not None:
        # tmux's activity has 1 s resolution: output later in the same second as our capture
        # must not be taken for what we saw, so look again next tick.
        fields["activity"] = pane.activity if at - pane.activity >= 1.5 else pane.activity - 1
    ended = exit_of(project, row, pane)
    steady = fingerprint is not None and fingerprint == row.screen
    if not says and steady and ended is None and pane is not None:
        says = asked(project, row, pane) or says
        fields["says"] = says
    # Stored is the screen's own reading; the hook's word is applied afresh each tick, so a
    # question answered (a hook saying work goes on) is not kept as the screen's.
    finished = record.last if record.last and record.last.fact == hooks.FINISHED else None
    asks = bool(wiring and wiring.asks)
    obs = Observation(pane=pane, exit=ended, says=overruled(record.last, says, asks),
                      steady=steady, heard=record.last is not None,
                      said=(ended.said if ended else None) or (finished.detail if finished else ""),
                      on_screen=says.startswith("waiting:") or not (
                          record.last and record.last.fact == hooks.ASKING),
                      hook_due=wiring is not None and record.last is None,
                      # a job whose engine hands its output over only at its end never
                      # looks idle: it is not restarted as stalled for want of a sight of it
                      idle_seconds=at - max(last, nudged or 0)
                      if sees_output(project.runner) else 0.0,
                      alive=(pane is None and ended is None and bool(row.session)
                             and project.runner.alive(row.session)))
    return Look(task, row, obs, fingerprint), fields


def heard_since(record: hooks.Record, since: float | None) -> bool:
    """Did the agent's own hooks report work after `since` (stamps have whole seconds)? The
    echo of our own prompt or nudge does not count (hooks.Heard.progress)."""
    return record.progress_at is not None and (since is None or record.progress_at >= since + 1)


def asked(project: Project, row: TaskRow, pane: Pane) -> str:
    """'waiting:<the screen's last line>' when a quiet agent is blocked reading its terminal:
    it asks something its profile's patterns do not know (a custom agent's `Delete every
    file? (y/n)`), and would otherwise sit `running` until the stall limit. '' otherwise."""
    if not project.runner.reads_terminal(pane):
        return ""
    screen_text = project.runner.capture([row.session], lines=0).get(row.session or "", "")
    lines = [line.strip() for line in screen_text.splitlines() if line.strip()]
    return f"waiting:{lines[-1][:200]}" if lines else ""


def events_since(project: Project, row: TaskRow, events: str, since: float | None) -> bool:
    """Did the attempt's raw output (kept by the wrapper) grow after `since`? Stamps have 1 s
    resolution, so a line in the second of the last progress is not counted twice."""
    path = project.layout.events_file(row.id, row.attempts, signals.PARSERS[events].raw_suffix)
    try:
        changed = path.stat().st_mtime
    except OSError:
        return False
    return since is None or changed >= since + 1


def snapshot(project: Project, lines: list[str]) -> dict[str, Pane] | None:
    """Every session of this project, or None (and one line) when the runner cannot be asked."""
    try:
        return project.runner.snapshot()
    except RunnerError as exc:
        lines.append(f"heartbeat: the runner cannot be asked ({exc}); observing skipped this "
                     "tick: no agent is taken for gone, failed or restarted")
        return None


def exit_of(project: Project, row: TaskRow, pane: Pane | None) -> Exit | None:
    """How the current attempt ended: the wrapper's exit file first, then tmux's record."""
    path = project.layout.exit_file(row.id, row.attempts)
    try:
        data = json.loads(path.read_text())
        return Exit(int(data["code"]), data.get("signal"),
                    *reported(project, row, int(data["code"])), data.get("why"))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    if pane is not None and pane.dead and (pane.exit_status is not None or pane.exit_signal):
        code = pane.exit_status if pane.exit_status is not None else 128 + pane.exit_signal
        return Exit(code, pane.exit_signal, *reported(project, row, code))
    return None


def reported(project: Project, row: TaskRow, code: int) -> tuple[str | None, str | None]:
    """The error and last message the attempt's own output reported, when its profile reads it
    (`events`; the wrapper writes them before the exit file). For a profile that does not, and
    a failed exit: the first line of its output's clean excerpt that one of the profile's
    `error` patterns matches (Claude's refusal to run as root is said once, then it exits 1)."""
    said = signals.load(project.layout.signals_file(row.id, row.attempts))
    if said:
        return said.error, said.last_message
    profile = project.manifest.profile(project.manifest.task(row.id)) \
        if row.id in project.task_ids else None
    if code == 0 or profile is None or profile.events or not profile.error:
        return None, None
    return screen.find(profile.error, excerpt.of_attempt(project.layout, row.id,
                                                         row.attempts)), None


def act(project: Project, look: Look) -> list[str]:
    task, row, obs = look.task, look.row, look.obs
    if row.status == "stuck" and obs.pane is None and obs.exit is None:
        return []  # stopped by hand, or stuck with its session gone: a person decides
    profile = project.manifest.profile(task)
    verdict = classify(obs, profile, project.manifest.stall_minutes * 60)
    if verdict.kind == "unseen":
        return [f"{task.id}: {verdict.reason}"]
    try:
        return heal_one(project, task, row, verdict, look)
    except LAUNCH_ERRORS as exc:
        return [wedged(project, row, f"heartbeat could not act on '{verdict.reason}': {exc}")]


def wedged(project: Project, row: TaskRow, why: str) -> str:
    """A task the heartbeat cannot act on keeps its state, but its reason (what `doit status`
    shows) says why, not only the heartbeat's log: a stale index.lock, a deleted .git file."""
    reason = f"{why}; tried again each tick"
    if row.reason != reason:
        project.store.update({row.id: {"reason": reason}})
    return f"{row.id}: {why}"


def heal_one(project: Project, task: Task, row: TaskRow, verdict: Verdict, look: Look) -> list[str]:
    store = project.store
    if verdict.kind in ("exited", "idle"):
        result = verified(project, task, row)
        if result is None:
            return []  # its verify job still runs, or was just started
        if result.ok:
            return [heal.complete(project, task, row, result)]
        question = question_in(look.obs.said) if result.nothing else None
        if question:  # it did nothing and asks: a person answers, not a retry of the same turn
            return on_question(project, task, row, look, Verdict(
                "waiting", f"waiting for input: {question}", question),
                can_answer=verdict.kind == "idle")
        return [heal.fail(project, task, row, f"{verdict.reason}, but {result.reason}"
                          f"{last_words(look.obs.exit)}", look.obs.exit, result.output)]
    if verdict.kind in ("failed", "lost"):
        return [heal.fail(project, task, row, verdict.reason, look.obs.exit)]
    if verdict.kind == "waiting":
        return on_question(project, task, row, look, verdict, can_answer=True)
    if row.status == "stuck":
        store.transition(task.id, "running", "the question on its screen was answered",
                         event=Event.ANSWERED)
        return [f"{task.id}: running again (the question was answered)"]
    if verdict.kind == "stalled":
        if row.nudged_at is not None:  # its grace period is over: restart
            return [heal.fail(project, task, row, f"{verdict.reason} after a nudge")]
        why_not = heal.not_nudgeable(project, project.manifest.profile(task), look.obs.says)
        if why_not:
            return [heal.fail(project, task, row, f"{verdict.reason}; not nudged: {why_not}")]
        return [heal.nudge(project, task, row, look.obs.idle_seconds)]
    return []


def on_question(project: Project, task: Task, row: TaskRow, look: Look, verdict: Verdict,
                can_answer: bool) -> list[str]:
    """Answer a question on the profile's allow-list (an agent still running only), else
    leave the task stuck with the question as its reason."""
    store = project.store
    answers = project.manifest.profile(task).answers if can_answer else ()
    reply = next((a for a in answers if re.search(a.match, verdict.question, re.IGNORECASE)),
                 None)
    if reply is None:
        if row.status != "stuck" or row.reason != verdict.reason:
            store.transition(task.id, "stuck", verdict.reason, event=Event.QUESTION)
            return [f"{task.id}: stuck: {verdict.reason} (not on the agent's answer list)"]
        return []
    if row.answered == look.fingerprint:  # answered this very screen already
        stall = project.manifest.stall_minutes * 60
        if look.obs.idle_seconds < stall:
            return []  # give the agent time
        why_not = heal.not_nudgeable(project, project.manifest.profile(task), look.obs.says)
        minutes = look.obs.idle_seconds / 60
        return [heal.fail(project, task, row, f"no progress for {minutes:.1f} min after "
                          f"answering {verdict.question!r}; not nudged: {why_not}")]
    if not look.obs.on_screen:
        # The hook named the question before the dialog was drawn: keys now would land in the
        # input box. Its next event (Claude's permission notification) or tick answers it.
        return [f"{task.id}: {verdict.question!r} is on the answer list; answered once it shows"]
    return [heal.answer(project, task, row, reply, verdict.question, look.fingerprint)]


def verified(project: Project, task: Task, row: TaskRow) -> Result | None:
    """The verdict on a finished attempt's work, or None while its verify command runs in the
    background (verifyjob): a long test suite must not hold the lock every other task needs."""
    layout = project.layout
    head = branch_head(layout.clone, row.branch) if row.branch else None
    done = verifyjob.outcome(layout, task.id, row.attempts, head)
    if done is not None:
        return None if done == verifyjob.RUNNING else done
    worktree = Path(row.worktree) if row.worktree else layout.worktree(task.id)
    base = row.base_commit or f"origin/{project.manifest.base}"
    ready = prepare(task, worktree, row.branch, base)
    if not ready.ok or not task.verify:
        return ready if not ready.ok else passed(ready, None)
    verifyjob.start(layout, task.id, row.attempts, ready, task.verify, worktree,
                    project.manifest.verify_timeout_minutes,
                    layout.heartbeat_hook if project.manifest.hook else None)
    project.store.note(task.id, f"verifying {ready.sha[:8]} with `{task.verify}` in the background")
    return None


def retry(project: Project) -> list[str]:
    """Restart failed tasks whose backoff has passed, while slots are free."""
    lines, at = [], time.time()
    rows = project.store.rows("error")
    occupied = None  # asked once, only if a retry is due (it may ask tmux)
    for task in (t for t in project.manifest.tasks if t.id in rows):
        row = rows[task.id]
        if not heal.retry_due(project, row, at):
            continue
        occupied = project.occupied() if occupied is None else occupied
        if occupied >= project.manifest.max_parallel:
            lines.append(f"{task.id}: retry waits for a free slot")
            break
        spent = budget.spent(project, task)
        if spent:  # its running attempts were never stopped; no new one starts
            project.store.transition(task.id, "stuck", spent, event=Event.BUDGET_SPENT,
                                     retry_at=None)
            lines.append(f"{task.id}: {spent}")
            continue
        waits = budget.limited(project, task)
        if waits:
            lines.append(f"{task.id}: retry {waits}")
            continue
        lines += guarded(f"retry {task.id}", restart, project, task, row)
        occupied += 1  # counted as taking a slot even if the restart failed: re-asked next tick
    return lines


def restart(project: Project, task: Task, row: TaskRow) -> str:
    try:
        return heal.restart(project, task, row)
    except LAUNCH_ERRORS as exc:
        return wedged(project, row, f"restart failed: {exc}")


def advance(project: Project) -> list[str]:
    """Launch what the gates now allow, longest chains first, up to max_parallel."""
    startable = project.startable()
    free = project.manifest.max_parallel - project.occupied()
    lines = []
    for task_id in project.plan.launch_order():
        if free <= 0:
            break
        if task_id not in startable:
            continue
        try:
            outcome = launch(project, task_id)
        except LaunchError as exc:
            lines.append(f"{task_id}: launch failed: {exc}")
            continue
        except Exception as exc:  # one task's surprise must not keep the others from starting
            lines.append(failure(f"launch {task_id}", exc))
            continue
        if outcome.launched:
            free -= 1
        lines.append(outcome.message)
    return lines


def guard_config(project: Project) -> list[str]:
    changed = cloneconfig.restore(project.layout)
    return [f"heartbeat: {changed}"] if changed else []


# The tick, in order. Each step runs on its own (see `guarded`): a step that raises is one line,
# and the steps after it still run. A removed task gives its slot back before anything launches.
STEPS: tuple[tuple[str, Callable[[Project], list[str]]], ...] = (
    ("config", guard_config),  # first: every later git call reads the clone's config
    ("release", release_removed),
    ("watch", watch),
    ("retry", retry),
    ("push_early", push_early),
    ("deliver", lambda project: deliver(project, time.time())),
    ("cleanup", clean),
    ("advance", advance),
    ("schedule", wake_later),
    ("notify", notifications.step),  # last: it reads what this tick changed from the journal
)
