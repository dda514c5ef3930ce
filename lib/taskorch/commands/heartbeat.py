"""`doit heartbeat`: one tick of observe -> classify -> heal -> verify -> advance (cron runs it)."""

from __future__ import annotations

from typing import Callable

from taskorch.commands.usage import Verb
from taskorch import heartbeat
from taskorch.terminal import echo
from taskorch.project import Project


VERB = Verb(
    "heartbeat", "Watch every agent once: answer, nudge, restart, verify, launch what is ready "
    "(cron runs this).",
    details="One idempotent tick, safe to run at any time and many at once: a heartbeat that "
            "finds another running asks it to tick again and exits 0.",
    examples=("doit heartbeat",))


def creator(project: Project) -> Callable[[], dict]:
    def beat() -> None:
        for line in heartbeat.run(project):
            echo(line, flush=True)

    def task_heartbeat() -> dict:
        return VERB.task(actions=[beat])

    task_heartbeat.__doc__ = VERB.summary
    return task_heartbeat
