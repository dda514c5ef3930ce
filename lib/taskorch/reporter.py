"""doit's console output, shaped for taskorch: one line per event, no doit bookkeeping.

Verbs print their own output. For `launch` the reporter says who waits on what and ends with a
one-line summary; failures are one line each, naming the task and how to fix it.
"""

from __future__ import annotations

import sys

from doit.exceptions import UnmetDependency
from doit.reporter import ConsoleReporter

from taskorch.commands import launch as launch_command
from taskorch.project import tally
from taskorch.state import StateError
from taskorch.terminal import calm_exits, reader_gone, shown

# doit ends an exception's traceback with its qualified name, noise before a message that is
# already written for the operator.
_STATE_ERROR = f"{StateError.__module__}.{StateError.__qualname__}: "


def failure_line(task_name: str, message: str) -> str:
    """`taskorch: <task>: <the message's last line>`, said once: verbs write their messages as
    `stop: ...` for other callers too, and this prefix would otherwise double it."""
    lines = message.strip().splitlines()
    text = lines[-1] if lines else "failed"
    text = text.removeprefix(_STATE_ERROR)
    for said in (f"{task_name}: ", *(f"{part}: " for part in task_name.split(":", 1))):
        if text.startswith(said):  # `launch:a` says `a: ...`, `stop` says `stop: ...`
            text = text[len(said):]
            break
    return f"taskorch: {task_name}: {text}\n"


class Reporter(ConsoleReporter):
    desc = "taskorch: one line per event"

    def __init__(self, outstream, options):  # type: ignore[no-untyped-def]
        super().__init__(outstream, options)
        self.launch_seen = False
        self.selected: set[str] = set()
        calm_exits()  # doit makes the reporter before any task runs: the earliest hook per run

    def write(self, text: str) -> None:
        try:
            super().write(shown(text))  # reasons and failures can quote agents and issue titles
            self.outstream.flush()
        except BrokenPipeError:
            reader_gone()

    def initialize(self, tasks, selected_tasks) -> None:  # type: ignore[no-untyped-def]
        self.selected = set(selected_tasks or ())

    def execute_task(self, task) -> None:  # type: ignore[no-untyped-def]
        self.launch_seen |= task.name.startswith("launch:")

    def skip_uptodate(self, task) -> None:  # type: ignore[no-untyped-def]
        if not task.name.startswith("launch:"):
            return
        self.launch_seen = True
        run = launch_command.CURRENT[0]
        view = run.skipped.get(task.name.split(":", 1)[1])
        if view is None:
            return
        if view.status == "blocked":
            self.write(f"{view.reason}\n")
        elif task.name in self.selected:  # asked for by name: say why nothing happened
            self.write(f"{task.name.split(':', 1)[1]} is already {view.status}: {view.reason}\n")

    def add_failure(self, task, fail) -> None:  # type: ignore[no-untyped-def]
        # `launch` fails when one of its `launch:<id>` fails, which has said why already.
        if not isinstance(fail, UnmetDependency):
            sys.stderr.write(shown(failure_line(task.name, fail.get_msg())))
        self.failures.append({"task": task, "exception": fail})

    def complete_run(self) -> None:
        if self.launch_seen and launch_command.CURRENT:
            run = launch_command.CURRENT[0]
            started = sum(o.launched for o in run.outcomes)
            rest = tally(view.status for view in run.project.views().values())
            self.write(f"launch: started {started}; now {rest}\n")
        if self.runtime_errors:
            sys.stderr.write("taskorch: " + "\n".join(self.runtime_errors) + "\n")
