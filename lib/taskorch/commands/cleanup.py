"""`doit cleanup`: remove merged tasks' worktrees, branches and sessions; `--all` removes
everything taskorch made, after asking (or with `--yes`)."""

from __future__ import annotations

import sys
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch.commands.usage import Verb
from taskorch import cleanup, lock
from taskorch.terminal import echo
from taskorch.project import Project


VERB = Verb(
    "cleanup", "Remove merged tasks' worktrees, branches and sessions (--all: everything, --force, "
    "--yes).",
    params=({"name": "all", "long": "all", "type": bool, "default": False,
             "help": "remove everything: tmux server, worktrees, clone, work directory"},
            {"name": "yes", "long": "yes", "type": bool, "default": False,
             "help": "do not ask before --all"},
            {"name": "force", "long": "force", "type": bool, "default": False,
             "help": "also remove worktrees with uncommitted or unpushed work"}),
    details="Work that is not yet pushed or committed is named and kept unless --force is "
            "given.",
    examples=("doit cleanup", "doit cleanup --all --yes"))


def creator(project: Project) -> Callable[[], dict]:
    def run(all: bool, yes: bool, force: bool) -> TaskFailed | None:
        if all and not yes:
            if not sys.stdin.isatty():
                return TaskFailed("cleanup --all removes the clone, every worktree and all state; "
                                  "add --yes to confirm")
            answer = input(f"Remove {project.layout.root} and the tmux server? Type yes: ")
            if answer.strip() != "yes":
                echo("cleanup: nothing removed")
                return None
        with lock.hold(project.layout.lock):
            if all:
                lines = cleanup.everything(project, force)
            else:
                lines = [cleanup.remove_task(project, row, force) for row in cleanup.merged(project)]
        for line in lines or ["cleanup: no merged task has anything left to remove"]:
            echo(line)
        return None

    def task_cleanup() -> dict:
        return VERB.task(actions=[run])

    task_cleanup.__doc__ = VERB.summary
    return task_cleanup
