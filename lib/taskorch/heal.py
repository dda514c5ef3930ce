"""What the heartbeat does to a task: complete it, fail it (and schedule a retry), restart it with
the error in the prompt, nudge it, answer it. Each step writes the journal.

A failure is recorded before anything is restarted, so a heartbeat killed between the two leaves
an `error` task whose retry time has come, and the next heartbeat restarts it.
"""

from __future__ import annotations

import json
import random
import time

from taskorch import excerpt, hooks, launch, prompts, seen
from taskorch.agents import AgentProfile, Answer
from taskorch.classify import Exit
from taskorch.layout import write_atomic
from taskorch.lifecycle import Event
from taskorch.manifest import Task
from taskorch.project import Project
from taskorch.runners import is_remote
from taskorch.state import TaskRow, epoch, now, stamp
from taskorch.verify import Result

BACKOFF_CAP = 600.0


def backoff(used: int, base: float) -> float:
    """10 s x 2^n with jitter, capped at 10 min (base 0 turns it off, for tests)."""
    if base <= 0:
        return 0.0
    return min(BACKOFF_CAP, base * 2 ** max(used - 1, 0)) * random.uniform(0.5, 1.0)


def budget_left(project: Project, row: TaskRow) -> int:
    return project.manifest.max_attempts - (row.attempts - row.budget_from)


def complete(project: Project, task: Task, row: TaskRow, result: Result) -> str:
    if result.sha:
        seen.keep_verified(project.layout.clone, task.id, result.sha)  # before the row: recover.py
    project.store.transition(task.id, "complete", result.reason, event=Event.EXITED_VERIFIED,
                             completed_at=now(), retry_at=None, verified=result.sha)
    if row.session:
        project.runner.stop(row.session)  # the log stays; an idle TUI is not left running
    return f"{task.id}: complete ({result.reason})"


def fail(project: Project, task: Task, row: TaskRow, reason: str, exit: Exit | None = None,
         output: str = "") -> str:
    """Record why this attempt failed, then schedule the next while the budget lasts. The
    record quotes a clean, bounded excerpt of the attempt's output (excerpt.py), and notes where
    the log ends, so the next attempt's excerpt starts there."""
    log = project.layout.log(task.id)
    failure = {"reason": reason, "exit_code": exit.code if exit else None,
               "signal": exit.signal if exit else None, "verify_output": output,
               "log_tail": excerpt.of_attempt(project.layout, task.id, row.attempts,
                                              project.manifest.profile(task).events),
               "log_end": log.stat().st_size if log.exists() else 0}
    write_atomic(project.layout.failure_file(task.id, row.attempts), json.dumps(failure))
    used, cap = row.attempts - row.budget_from, project.manifest.max_attempts
    if used < cap:
        at = time.time() + backoff(used, project.manifest.retry_backoff_seconds)
        text = f"{reason}; retry {used + 1} of {cap} at {stamp(at)[11:19]} UTC"
        project.store.transition(task.id, "error", text, event=Event.FAILED, retry_at=stamp(at))
    else:
        text = (f"{reason}; gave up after {used} attempts "
                f"(`doit retry {task.id}` starts it again)")
        project.store.transition(task.id, "error", text, event=Event.FAILED, retry_at=None)
        if row.session:
            project.runner.stop(row.session)  # nothing will restart it; the log stays
    return f"{task.id}: error: {text}"


def retry_due(project: Project, row: TaskRow, at: float) -> bool:
    return row.status == "error" and due(row.retry_at, at) and budget_left(project, row) > 0


def due(when: str | None, at: float) -> bool:
    """Has a stored due time come? One further ahead than any backoff taskorch sets means the
    clock went back since it was stored (a 2 s backoff read as 3 h after a jump): due now."""
    time_ = epoch(when)
    return time_ is not None and (time_ <= at or time_ - at > BACKOFF_CAP + 60)


def restart(project: Project, task: Task, row: TaskRow) -> str:
    """The next attempt, in the same worktree, told what went wrong last time: a crash or a
    failed verify (prompts/retry.md.j2), or a failed merge gate (prompts/rework.md.j2)."""
    if row.session:
        project.runner.stop(row.session)  # never two agents on one task
    path = project.layout.failure_file(task.id, row.attempts)
    failure = json.loads(path.read_text()) if path.exists() else {"reason": row.reason}
    extra = {"max_attempts": project.manifest.max_attempts + row.budget_from,
             "error": failure.get("reason", row.reason), "exit_code": failure.get("exit_code"),
             "log_tail": failure.get("log_tail", ""),
             "verify_output": failure.get("verify_output", "")}
    rework = failure.get("rework")  # the merge gate sent it back (mergegate.react)
    template = "rework.md.j2" if rework else "retry.md.j2"
    if rework and not (project.manifest.root / "prompts" / template).exists():
        # prompts/ copied before rework rounds existed: the retry prompt carries the failure
        template = "retry.md.j2"
        extra["verify_output"] = rework.get("checks_output") or "\n".join(
            rework.get("comments") or rework.get("conflicts") or [])
    outcome = launch.start(project, task, row.attempts + 1, template=template,
                           extra={**extra, **(rework or {})})
    return outcome.message


def not_nudgeable(project: Project, profile: AgentProfile, says: str) -> str | None:
    """Why a stalled agent must not be nudged, or None. A nudge is pasted into the agent's
    terminal: a job on a remote runner has none, a headless agent reads none (its prompt on
    stdin, or its output read as events), and in a dialog the nudge would become the answer.
    Such a stall is a restart at once."""
    if is_remote(project.runner):
        return "it runs as a job, which takes no input"
    if profile.stdin or profile.events:
        return "its agent reads no terminal (a headless profile)"
    if says.startswith("waiting:"):
        return "a dialog is on its screen, and a nudge would become its answer"
    return None


def nudge(project: Project, task: Task, row: TaskRow, idle_seconds: float) -> str:
    """Paste the nudge prompt and press Enter. From now on only a commit (or new events) resets
    the stall clock (heartbeat.look_at): if none comes within another stall_minutes, the attempt
    fails "after a nudge" and is restarted. Callers check `not_nudgeable` first."""
    minutes = round(idle_seconds / 60, 1)
    context = {**launch.prompt_context(project, task, row.branch or "", row.attempts),
               "stalled_minutes": minutes}
    text = prompts.render(project.manifest.root / "prompts", "nudge.md.j2", context).strip()
    heard_typing(project, task, row, text)
    project.runner.send(row.session, text)
    project.runner.press(row.session, ("Enter",))
    project.store.update({task.id: {"nudged_at": now()}})
    project.store.note(task.id, f"nudged after {minutes} min without progress")
    return f"{task.id}: nudged after {minutes} min without progress"


def heard_typing(project: Project, task: Task, row: TaskRow, text: str) -> None:
    """Tell the attempt's hook record that we type into the agent (hooks.typed)."""
    if project.manifest.profile(task).hooks:
        hooks.typed(project.layout.hooks_file(task.id, row.attempts), text)


def answer(project: Project, task: Task, row: TaskRow, reply: Answer, question: str,
           fingerprint: str | None) -> str:
    heard_typing(project, task, row, reply.send)
    if reply.send:
        project.runner.send(row.session, reply.send)
    project.runner.press(row.session, reply.keys)
    project.store.update({task.id: {"answered": fingerprint}})
    sent = " + ".join(([repr(reply.send)] if reply.send else []) + list(reply.keys))
    project.store.note(task.id, f"answered {question!r} with {sent}")
    return f"{task.id}: answered {question!r} with {sent}"
