"""`doit launch` and `doit launch:<id>`: start every task whose gates are open, up to max_parallel.

doit has no "pending" outcome, so waiting is modelled as up-to-date: `launch:<id>` is up-to-date
while its task is already launched or not yet ready. The action checks again under the lock,
because `doit -a` skips up-to-date checks and another run may have launched meanwhile.
"""

from __future__ import annotations

from typing import Callable, Iterator

from doit.exceptions import TaskFailed

from taskorch.commands.usage import Verb
from taskorch import lock
from taskorch.launch import LaunchError, Outcome, launch
from taskorch.terminal import echo, shown
from taskorch.project import Project, View


class LaunchRun:
    """What one `doit launch` run saw and did; the reporter reads it for its summary."""

    def __init__(self, project: Project):
        self.project = project
        self._views: dict[str, View] | None = None
        self.skipped: dict[str, View] = {}
        self.outcomes: list[Outcome] = []

    def views(self) -> dict[str, View]:
        if self._views is None:
            try:
                with lock.hold(self.project.layout.lock):
                    self._views = self.project.record_gates()
            except lock.Busy:
                # Another run holds the lock for long (a big clone, say): decide from what the
                # store says now; each launch action still checks again under the lock.
                self._views = self.project.views()
        return self._views

    def up_to_date(self, task_id: str) -> bool:
        view = self.views()[task_id]
        if view.status == "pending":
            return False
        self.skipped[task_id] = view
        return True

    def act(self, task_id: str) -> TaskFailed | None:
        try:
            with lock.hold(self.project.layout.lock):
                outcome = launch(self.project, task_id)
        except (LaunchError, lock.Busy) as exc:
            return TaskFailed(str(exc))
        self.outcomes.append(outcome)
        echo(outcome.message, flush=True)
        return None


CURRENT: list[LaunchRun] = []  # the run of this process, for the reporter


VERB = Verb(
    "launch", "Start every task whose gates are open (launch:<id> starts one).",
    details="Up to max_parallel agents run at once. Running it again launches nothing twice; a "
            "launch that only waits exits 0 and says who waits on what. `doit launch:<id>` "
            "starts one task, or says why it cannot.",
    examples=("doit launch", "doit launch:t1"))


def creator(project: Project, subtasks: bool = True) -> Callable[[], Iterator[dict]]:
    """`subtasks=False` (a run of verbs that never start a task: dodo.needs_subtasks) makes
    `launch` an empty group, so doit does not load a task per manifest task for nothing."""
    run = LaunchRun(project)
    CURRENT[:] = [run]

    def task_launch() -> Iterator[dict]:
        if not subtasks:
            return
        # doit runs subtasks in the order given: the plan's launch order, longest chains first
        for task in (project.manifest.task(i) for i in project.plan.launch_order()):
            deps = [f"_done:{w.id}" if w.reason != "phase" else f"_{w.id}"
                    for w in project.plan.waits[task.id]]
            yield {
                "name": task.id,
                "doc": shown(f"start {task.id}: {task.title}")[:80],  # `doit list` prints it
                "actions": [(run.act, (task.id,))],
                "uptodate": [(run.up_to_date, (task.id,), {})],
                "task_dep": sorted(set(deps)),
                "verbosity": 2,
            }

    task_launch.__doc__ = VERB.summary
    return task_launch


def gate_creators(project: Project) -> dict[str, Callable[[], Iterator[dict]]]:
    """Completion gates (`_done:<id>`) and phase gates (`_phase:<n>`): the DAG, as doit sees it."""
    def task__done() -> Iterator[dict]:
        for task in project.manifest.tasks:
            yield {"name": task.id, "actions": None}

    def task__phase() -> Iterator[dict]:
        for p, phase in enumerate(project.manifest.phases[:-1]):
            yield {"name": str(p + 1), "actions": None,
                   "task_dep": [f"_done:{t.id}" for t in phase.tasks]}

    return {"task__done": task__done, "task__phase": task__phase}
