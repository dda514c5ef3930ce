"""`doit heartbeat`: one tick of observe -> classify -> heal -> verify -> advance (cron runs it)."""

from __future__ import annotations

from typing import Callable

from taskorch import heartbeat
from taskorch.terminal import echo
from taskorch.project import Project


def creator(project: Project) -> Callable[[], dict]:
    def beat() -> None:
        for line in heartbeat.run(project):
            echo(line, flush=True)

    def task_heartbeat() -> dict:
        return {"actions": [beat], "uptodate": [False], "verbosity": 2}

    task_heartbeat.__doc__ = ("Watch every agent once: answer, nudge, restart, verify, launch what "
                              "is ready (cron runs this).")
    return task_heartbeat
