"""`doit dashboard --html FILE`: the dashboard (issue 13) as one self-contained HTML file.

The file carries everything it shows (style, the DAG and timeline as inline SVG, each started
task's log tail) and fetches nothing, so it can be mailed, attached to a ticket or opened
offline. It reads the state store only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch.commands.usage import Verb
from taskorch.layout import write_atomic
from taskorch.project import Project
from taskorch.terminal import echo

VERB = Verb(
    "dashboard", "Write the dashboard as one self-contained HTML file (--html FILE).",
    params=({"name": "html", "long": "html", "default": "", "metavar": "FILE",
             "help": "where to write the page (default: dashboard.html in the work directory)"},),
    details="The page shows the tasks that need you first, with why; then every task by "
            "phase: its state, attempt or rework round, pull request or branch, cost and last "
            "activity, its phase's DAG coloured by state, and its log's last lines (click "
            "'log'); then a timeline of every attempt from the journal. It fetches nothing "
            "from the network: open it anywhere. It reads the state store only; `doit serve` "
            "shows the same page live.",
    examples=("doit dashboard --html status.html", "doit dashboard"))


def write(project: Project, html: str) -> Path:
    # here, not at the top: every doit process imports every verb's module, and the page's
    # templates and layout code would cost each heartbeat ~0.1 s of CPU
    from taskorch.views import board, dashboard
    target = Path(html) if html else project.layout.root / "dashboard.html"
    write_atomic(target, dashboard.html(board.read(project)))
    return target


def creator(project: Project) -> Callable[[], dict]:
    def run(html: str) -> TaskFailed | None:
        try:
            target = write(project, html)
        except OSError as exc:
            return TaskFailed(f"dashboard: cannot write {html or 'the page'}: {exc}")
        echo(f"wrote {target} ({len(project.manifest.tasks)} tasks)")
        return None

    def task_dashboard() -> dict:
        return VERB.task(actions=[run])

    task_dashboard.__doc__ = VERB.summary
    return task_dashboard
