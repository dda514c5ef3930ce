"""Operator verbs on one task: `doit attach|stop|retry|skip <id>`.

Each names the task as a positional argument and says plainly what it did or why it could not.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch import heartbeat, lock
from taskorch.project import Project
from taskorch.state import now


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
        print(" ".join(argv))
        return None
    os.execvp(argv[0], argv)  # hand the terminal to tmux; detach with C-b d
    return None


def stop(project: Project, ids: list[str]) -> TaskFailed | None:
    task_id = _one(project, ids, "stop")
    if isinstance(task_id, TaskFailed):
        return task_id
    with lock.hold(project.layout.lock):
        row = project.store.get(task_id)
        if row.session:
            project.runner.stop(row.session)
        if row.status in ("running", "stuck", "error"):
            project.store.transition(task_id, "stuck", f"stopped by hand (`doit retry {task_id}` "
                                     "starts it again)", retry_at=None)
            print(f"{task_id}: stopped; `doit retry {task_id}` starts it again")
        else:
            print(f"{task_id}: nothing to stop (it is {row.status})")
    return None


def retry(project: Project, ids: list[str]) -> TaskFailed | None:
    task_id = _one(project, ids, "retry")
    if isinstance(task_id, TaskFailed):
        return task_id
    with lock.hold(project.layout.lock):
        row = project.store.get(task_id)
        if row.status in ("pending", "blocked"):
            print(f"{task_id}: not started yet; `doit launch:{task_id}` starts it")
            return None
        if row.session:
            project.runner.stop(row.session)
        project.store.transition(task_id, "error", f"retry asked by hand; attempt budget reset "
                                 f"(reason before: {row.reason})", retry_at=now(),
                                 budget_from=row.attempts)
    print(f"{task_id}: attempt budget reset; restarting now")
    for line in heartbeat.run(project):
        print(line)
    return None


def skip(project: Project, ids: list[str]) -> TaskFailed | None:
    task_id = _one(project, ids, "skip")
    if isinstance(task_id, TaskFailed):
        return task_id
    with lock.hold(project.layout.lock):
        row = project.store.get(task_id)
        if row.session:
            project.runner.stop(row.session)
        project.store.transition(task_id, "complete", "marked done by hand (doit skip)",
                                 completed_at=now(), retry_at=None)
    print(f"{task_id}: marked complete by hand; tasks waiting for it may start")
    return None


def creators(project: Project) -> dict[str, Callable[[], dict]]:
    def verb(name: str, action: Callable, doc: str, params: list | None = None) -> Callable[[], dict]:
        def create() -> dict:
            return {"actions": [action], "pos_arg": "ids", "params": params or [],
                    "uptodate": [False], "verbosity": 2}
        create.__doc__ = doc
        return create

    return {
        "task_attach": verb("attach", lambda ids, print: attach(project, ids, print),
                            "Attach to a task's tmux session (--print: just print the command).",
                            [{"name": "print", "long": "print", "type": bool, "default": False,
                              "help": "print the tmux command instead of running it"}]),
        "task_stop": verb("stop", lambda ids: stop(project, ids),
                          "Stop a task's agent; it stays stuck until `doit retry <id>`."),
        "task_retry": verb("retry", lambda ids: retry(project, ids),
                           "Reset a task's attempt budget and restart it now."),
        "task_skip": verb("skip", lambda ids: skip(project, ids),
                          "Mark a task done by hand so that tasks waiting for it can start."),
    }
