"""`doit serve [--port N]`: the dashboard (issue 13), live, on 127.0.0.1, until Ctrl-C.

The page asks /version every two seconds (the journal's last event, the last tick, the
manifest's mtime) and swaps in /body only when it changed; /log/<id> gives a task's log tail,
escape-free, when its 'log' is opened. How requests are answered, and kept to this machine, is
views/server.py's to say; it is imported only when this verb runs.
"""

from __future__ import annotations

from typing import Callable

from doit.exceptions import TaskFailed

from taskorch.commands.usage import Verb
from taskorch.project import Project

DEFAULT_PORT = 8765

VERB = Verb(
    "serve", "Serve the dashboard live on 127.0.0.1 until Ctrl-C (--port N; 0 picks a free one).",
    params=({"name": "port", "long": "port", "type": int, "default": DEFAULT_PORT,
             "metavar": "N", "help": f"the port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any "
                                     "free one, printed)"},),
    details="The page of `doit dashboard`, refreshed in place whenever a heartbeat or a verb "
            "changes something (it checks every two seconds); a task's log is fetched when "
            "you open it. Only this machine can reach it (127.0.0.1). It reads the state "
            "store only and never takes the heartbeat's lock.",
    examples=("doit serve", "doit serve --port 0"))


def creator(project: Project) -> Callable[[], dict]:
    def run(port: int) -> TaskFailed | None:
        if not 0 <= port <= 65535:
            return TaskFailed(f"serve: --port takes 0 to 65535, not {port}")
        from taskorch.views import server  # here: http.server and the page, for this verb only
        return server.serve(project, port)

    def task_serve() -> dict:
        return VERB.task(actions=[run])

    task_serve.__doc__ = VERB.summary
    return task_serve
