"""Operator verbs on one task: `doit attach|stop|retry|skip <id>`.

Each names the task as a positional argument and says plainly what it did or why it could not.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch import heartbeat, lifecycle, lock
from taskorch.commands.usage import Verb
from taskorch.layout import write_atomic
from taskorch.lifecycle import Event, State
from taskorch.terminal import echo
from taskorch.project import NOT_STARTED, Project
from taskorch.runners.base import RunnerError
from taskorch.state import TaskRow, now


def _one(project: Project, ids: list[str], verb: str) -> str | TaskFailed:
    if len(ids) != 1:
        return TaskFailed(f"usage: doit {verb} <task id>")
    if ids[0] not in {t.id for t in project.manifest.tasks}:
        return TaskFailed(f"{verb}: no task '{ids[0]}' in {project.manifest.path.name}")
    return ids[0]


def attach(project: Project, ids: list[str], print_only: bool) -> TaskFailed | None:
    task_id = _one(project, ids, "attach")
    if isinstance(task_id, TaskFailed):
        return task_id
    row = project.store.get(task_id)
    if not row or not row.session or row.session not in project.runner.snapshot():
        return TaskFailed(f"attach: {task_id} has no session (it is {row.status if row else '?'})")
    argv = project.runner.attach_argv(row.session)
    if print_only or not sys.stdout.isatty():
        echo(shlex.join(argv))
        return None
    os.execvp(argv[0], argv)  # hand the terminal to tmux; detach with C-b d
    return None


def _change(project: Project, ids: list[str], verb: str,
            change: Callable[[TaskRow], str | TaskFailed]) -> TaskFailed | None:
    """Resolve the one task, then apply `change` to it under the lock and print what it says;
    a refusal (TaskFailed) is one line on stderr and a non-zero exit."""
    task_id = _one(project, ids, verb)
    if isinstance(task_id, TaskFailed):
        return task_id
    with lock.hold(project.layout.lock):
        said = change(project.store.get(task_id))
    if isinstance(said, TaskFailed):
        return said
    echo(said)
    return None


def _end_agent(project: Project, row: TaskRow, verb: str) -> TaskFailed | None:
    """End the agent and everything it started; a refusal when something of it survives (the
    task is then left as it was: never a second agent beside the first)."""
    if not row.session:
        return None
    try:
        project.runner.stop(row.session)
    except RunnerError as exc:
        return TaskFailed(f"{verb}: {row.id}: its agent could not be stopped: {exc}; the task "
                          f"stays {row.status}")
    return None


# Why a verb cannot act on a task in a state the lifecycle table does not allow it from.
def _no_agent(row: TaskRow) -> str:
    if row.status in NOT_STARTED:
        return f"stop: {row.id} is {row.status}; there is no agent to stop (it has not started)"
    return f"stop: {row.id} is {row.status}; there is no agent to stop"


def _no_retry(project: Project, row: TaskRow) -> str:
    if row.status in NOT_STARTED:
        return (f"retry: {row.id} is {row.status}: it has not started yet; "
                f"`doit launch:{row.id}` starts it")
    if row.status == State.MERGED:
        return (f"retry: {row.id} is merged: its work is on {project.manifest.base}; nothing to retry "
                "(a new task in the manifest does more)")
    return (f"retry: {row.id} is {row.status}: its verified work is delivered or on its way; "
            f"`doit retry {row.id} --force` runs its agent again on its branch")


def _no_skip(project: Project, row: TaskRow) -> str:
    if row.status == State.MERGED:
        return f"skip: {row.id} is merged: its work is on {project.manifest.base}; nothing to skip"
    return (f"skip: {row.id} is {row.status}: its verified work would not be delivered; "
            f"`doit skip {row.id} --force` skips it anyway")


def _legal(row: TaskRow, event: Event) -> bool:
    return bool(lifecycle.targets(row.status, event))


def stop(project: Project, ids: list[str]) -> TaskFailed | None:
    def change(row: TaskRow) -> str | TaskFailed:
        if not _legal(row, Event.STOPPED_BY_HAND):
            return TaskFailed(_no_agent(row))
        if failed := _end_agent(project, row, "stop"):
            return failed
        project.store.transition(row.id, "stuck", f"stopped by hand (`doit retry {row.id}` "
                                 "starts it again)", event=Event.STOPPED_BY_HAND, retry_at=None)
        return f"{row.id}: stopped; `doit retry {row.id}` starts it again"
    return _change(project, ids, "stop", change)


def retry(project: Project, ids: list[str], force: bool = False) -> TaskFailed | None:
    """`--force` also restarts verified work (complete, pr_open): its agent works on the same
    branch again, and the next verified commit is delivered as usual. Merged work never."""
    event = Event.RETRIED_BY_HAND_FORCED if force else Event.RETRIED_BY_HAND

    def change(row: TaskRow) -> str | TaskFailed:
        if not _legal(row, event):
            return TaskFailed(_no_retry(project, row))
        if failed := _end_agent(project, row, "retry"):
            return failed
        project.store.transition(row.id, "error", "retry asked by hand; attempt budget reset "
                                 f"(reason before: {row.reason})", event=event, retry_at=now(),
                                 budget_from=row.attempts, rounds=0)
        return f"{row.id}: attempt budget reset; restarting now"
    failed = _change(project, ids, "retry", change)
    if failed is None:
        for line in heartbeat.run(project):  # the restart itself, now rather than at the next tick
            echo(line)
    return failed


def skip(project: Project, ids: list[str], force: bool = False) -> TaskFailed | None:
    """`--force` also skips verified work (complete, pr_open), which is then not delivered, or
    its pull request no longer watched. Merged work is never skipped."""
    event = Event.SKIPPED_BY_HAND_FORCED if force else Event.SKIPPED_BY_HAND

    def change(row: TaskRow) -> str | TaskFailed:
        if row.status == State.SKIPPED:
            return f"{row.id}: nothing to skip: it is skipped already"  # done: not an error
        if not _legal(row, event):
            return TaskFailed(_no_skip(project, row))
        if failed := _end_agent(project, row, "skip"):
            return failed
        # Not `complete`: nothing was verified, so nothing of its branch is pushed or merged,
        # and tasks waiting for it start from the base, not from its work in progress.
        project.store.transition(row.id, "skipped", "skipped by hand (doit skip); its branch "
                                 "is kept but not delivered", event=event, completed_at=now(),
                                 retry_at=None)
        return f"{row.id}: skipped; tasks waiting for it may start (its branch is not delivered)"
    return _change(project, ids, "skip", change)


def done(project: Project, ids: list[str]) -> TaskFailed | None:
    """A person says their task (`agent: human`) is finished: its attempt gets the exit file an
    agent's wrapper would write, exit 0, and the heartbeat run now verifies and delivers it as
    it would an agent's."""
    def change(row: TaskRow) -> str | TaskFailed:
        profile = project.manifest.profile(project.manifest.task(row.id))
        if not profile.person:
            return TaskFailed(f"done: {row.id} is worked by agent '{profile.name}', which says "
                              f"itself when it is done; `doit skip {row.id}` marks a task done "
                              "by hand")
        if row.status != State.RUNNING:
            return TaskFailed(f"done: {row.id} is {row.status}, not running: "
                              + ("`doit launch` starts it first" if row.status in NOT_STARTED
                                 else "there is nothing to finish"))
        write_atomic(project.layout.exit_file(row.id, row.attempts),
                     json.dumps({"code": 0, "signal": None}))
        project.store.note(row.id, "a person said it is done (doit done): verifying it")
        return f"{row.id}: done; verifying and delivering it now"
    failed = _change(project, ids, "done", change)
    if failed is None:
        for line in heartbeat.run(project):  # verify and deliver now, not at the next tick
            echo(line)
    return failed


PRINT = {"name": "print", "long": "print", "type": bool, "default": False,
         "help": "print the tmux command instead of running it"}
FORCE_RETRY = {"name": "force", "long": "force", "type": bool, "default": False,
               "help": "also restart a complete or pr_open task (never a merged one)"}
FORCE_SKIP = {"name": "force", "long": "force", "type": bool, "default": False,
              "help": "also skip a complete or pr_open task: its work is not delivered (never a "
                      "merged one)"}
VERBS = (
    Verb("attach", "Attach to a task's tmux session (--print: just print the command).",
         params=(PRINT,), positional="<task id>", details="Detach again with C-b d.",
         examples=("doit attach t1", "doit attach t1 --print")),
    Verb("stop", "Stop a task's agent; it stays stuck until `doit retry <id>`.",
         positional="<task id>", examples=("doit stop t1",)),
    Verb("retry", "Reset a task's attempt budget and restart it now.",
         params=(FORCE_RETRY,), positional="<task id>",
         details="A task not started yet, or merged, is refused. A complete or pr_open task is "
                 "refused unless --force: then its agent works on the same branch again and the "
                 "new verified commit is delivered as usual.",
         examples=("doit retry t1", "doit retry t1 --force")),
    Verb("skip", "Mark a task done by hand so that tasks waiting for it can start.",
         params=(FORCE_SKIP,), positional="<task id>",
         details="A merged task is refused. A complete or pr_open task is refused unless "
                 "--force: its verified work is then not delivered, nor its pull request watched.",
         examples=("doit skip t1", "doit skip t1 --force")),
    Verb("done", "Say a person's task (agent: human) is finished: verify and deliver it.",
         positional="<task id>",
         details="Its worktree's work is verified as an agent's would be (uncommitted changes "
                 "are committed for you within its files), then delivered. Only a running task "
                 "of agent human takes it.",
         examples=("doit done t3",)),
)


def creators(project: Project) -> dict[str, Callable[[], dict]]:
    actions = {
        # doit hands everything after the first positional over as positionals: `attach t1 --print`
        "attach": lambda ids, print: attach(project, [i for i in ids if i != "--print"],
                                            print or "--print" in ids),
        "stop": lambda ids: stop(project, ids),
        "retry": lambda ids, force: retry(project, [i for i in ids if i != "--force"],
                                          force or "--force" in ids),
        "skip": lambda ids, force: skip(project, [i for i in ids if i != "--force"],
                                        force or "--force" in ids),
        "done": lambda ids: done(project, ids),
    }

    def creator(verb: Verb) -> Callable[[], dict]:
        def create() -> dict:
            return verb.task(actions=[actions[verb.name]])
        create.__doc__ = verb.summary
        return create

    return {f"task_{verb.name}": creator(verb) for verb in VERBS}
