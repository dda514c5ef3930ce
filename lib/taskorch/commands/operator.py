"""Operator verbs on one task: `doit attach|stop|retry|skip <id>`.

Each names the task as a positional argument and says plainly what it did or why it could not.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch import heartbeat, lock
from taskorch.commands.usage import Verb
from taskorch.terminal import echo
from taskorch.project import Project
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
            change: Callable[[TaskRow], str]) -> TaskFailed | None:
    """Resolve the one task, then apply `change` to it under the lock and print what it says."""
    task_id = _one(project, ids, verb)
    if isinstance(task_id, TaskFailed):
        return task_id
    with lock.hold(project.layout.lock):
        echo(change(project.store.get(task_id)))
    return None


def _end_agent(project: Project, row: TaskRow) -> None:
    if row.session:
        project.runner.stop(row.session)


def stop(project: Project, ids: list[str]) -> TaskFailed | None:
    def change(row: TaskRow) -> str:
        if row.status not in ("running", "stuck", "error"):
            return f"{row.id}: nothing to stop (it is {row.status})"
        _end_agent(project, row)
        project.store.transition(row.id, "stuck", f"stopped by hand (`doit retry {row.id}` "
                                 "starts it again)", retry_at=None)
        return f"{row.id}: stopped; `doit retry {row.id}` starts it again"
    return _change(project, ids, "stop", change)


def retry(project: Project, ids: list[str]) -> TaskFailed | None:
    def change(row: TaskRow) -> str:
        if row.status in ("pending", "blocked"):
            return f"{row.id}: not started yet; `doit launch:{row.id}` starts it"
        if row.status in ("merged", "pr_open", "complete"):
            return (f"{row.id}: nothing to retry: it is {row.status} (its verified work is "
                    "delivered or on its way)")
        _end_agent(project, row)
        project.store.transition(row.id, "error", "retry asked by hand; attempt budget reset "
                                 f"(reason before: {row.reason})", retry_at=now(),
                                 budget_from=row.attempts)
        return f"{row.id}: attempt budget reset; restarting now"
    failed = _change(project, ids, "retry", change)
    if failed is None:
        for line in heartbeat.run(project):  # the restart itself, now rather than at the next tick
            echo(line)
    return failed


def skip(project: Project, ids: list[str]) -> TaskFailed | None:
    def change(row: TaskRow) -> str:
        if row.status in ("merged", "skipped"):
            return f"{row.id}: nothing to skip: it is {row.status}"
        _end_agent(project, row)
        # Not `complete`: nothing was verified, so nothing of its branch is pushed or merged,
        # and tasks waiting for it start from the base, not from its work in progress.
        project.store.transition(row.id, "skipped", "skipped by hand (doit skip); its branch "
                                 "is kept but not delivered", completed_at=now(), retry_at=None)
        return f"{row.id}: skipped; tasks waiting for it may start (its branch is not delivered)"
    return _change(project, ids, "skip", change)


PRINT = {"name": "print", "long": "print", "type": bool, "default": False,
         "help": "print the tmux command instead of running it"}
VERBS = (
    Verb("attach", "Attach to a task's tmux session (--print: just print the command).",
         params=(PRINT,), positional="<task id>", details="Detach again with C-b d.",
         examples=("doit attach t1", "doit attach t1 --print")),
    Verb("stop", "Stop a task's agent; it stays stuck until `doit retry <id>`.",
         positional="<task id>", examples=("doit stop t1",)),
    Verb("retry", "Reset a task's attempt budget and restart it now.",
         positional="<task id>", examples=("doit retry t1",)),
    Verb("skip", "Mark a task done by hand so that tasks waiting for it can start.",
         positional="<task id>", examples=("doit skip t1",)),
)


def creators(project: Project) -> dict[str, Callable[[], dict]]:
    actions = {
        # doit hands everything after the first positional over as positionals: `attach t1 --print`
        "attach": lambda ids, print: attach(project, [i for i in ids if i != "--print"],
                                            print or "--print" in ids),
        "stop": lambda ids: stop(project, ids),
        "retry": lambda ids: retry(project, ids),
        "skip": lambda ids: skip(project, ids),
    }

    def creator(verb: Verb) -> Callable[[], dict]:
        def create() -> dict:
            return verb.task(actions=[actions[verb.name]])
        create.__doc__ = verb.summary
        return create

    return {f"task_{verb.name}": creator(verb) for verb in VERBS}
