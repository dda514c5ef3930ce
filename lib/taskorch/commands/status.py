"""`doit status`: every task's state and why, as a table or JSON; `--task ID` for one task."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable

from doit.exceptions import TaskFailed

from taskorch.commands.usage import Verb
from taskorch.terminal import echo, out
from taskorch.project import Project, View, tally

COLUMNS = ("id", "phase", "state", "attempt", "branch", "session", "age", "active", "why")


def age(stamp: str | None) -> str:
    if not stamp:
        return "-"
    then = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    seconds = int((dt.datetime.now(dt.timezone.utc) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def as_dict(project: Project, views: dict[str, View]) -> dict[str, Any]:
    m = project.manifest
    return {"tasks": [{
        "id": t.id, "phase": m.phases[t.phase].name, "status": views[t.id].status,
        "reason": views[t.id].reason, "attempts": views[t.id].row.attempts,
        "branch": views[t.id].row.branch, "worktree": views[t.id].row.worktree,
        "session": views[t.id].row.session, "prNumber": views[t.id].row.pr_number,
        "delivery": views[t.id].row.delivery,
        "startedAt": views[t.id].row.started_at, "completedAt": views[t.id].row.completed_at,
        "lastProgress": views[t.id].row.last_progress,
    } for t in m.tasks]}


def as_table(project: Project, views: dict[str, View]) -> str:
    m = project.manifest
    rows = [COLUMNS] + [(
        t.id, str(t.phase + 1), views[t.id].status, str(views[t.id].row.attempts),
        views[t.id].row.branch or "-", views[t.id].row.session or "-",
        age(views[t.id].row.updated_at),
        age(views[t.id].row.last_progress) if views[t.id].status in ("running", "stuck") else "-",
        views[t.id].reason.replace("\n", " ") or "-",
    ) for t in m.tasks]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    summary = tally(view.status for view in views.values())
    phases = "  ".join(f"{p + 1}={phase.name}" for p, phase in enumerate(m.phases))
    return "\n".join(lines + ["", f"{len(m.tasks)} tasks: {summary}", f"phases: {phases}"])


def one_task(project: Project, views: dict[str, View], task_id: str, log_lines: int = 20) -> str:
    view = views[task_id]
    row = view.row
    out = [f"{task_id}: {view.status} (attempt {row.attempts}) - {view.reason or '-'}",
           f"  branch {row.branch or '-'}  worktree {row.worktree or '-'}  session {row.session or '-'}",
           "", "journal:"]
    out += [f"  {e.at}  {e.old or '-'} -> {e.new}: {e.reason}"
            for e in project.store.events(task_id, limit=10)]
    log = project.layout.log(task_id)
    if log.exists():
        tail = log.read_bytes()[-65536:].decode("utf-8", errors="replace").splitlines()[-log_lines:]
        out += ["", f"last {len(tail)} log lines ({log}):"] + [f"  {line}" for line in tail]
    return "\n".join(out)


VERB = Verb(
    "status", "Show every task's state, attempt, last activity and why (--format json, --task ID).",
    params=({"name": "format", "long": "format", "short": "f", "default": "table",
             "choices": [("table", ""), ("json", "")], "metavar": "FORMAT",
             "help": "output format: table (default) or json"},
            {"name": "task", "long": "task", "short": "t", "default": "", "metavar": "ID",
             "help": "show one task: its journal and the last lines of its log"}),
    details="Reads the state store only: it starts, stops and changes nothing.",
    examples=("doit status", "doit status --task t3", "doit status --format json"))


def creator(project: Project) -> Callable[[], dict]:
    def show(format: str, task: str) -> str | None:
        views = project.views()
        if task:
            if task not in views:
                return TaskFailed(f"status: no task '{task}' in {project.manifest.path.name}")
            echo(one_task(project, views, task))
        elif format == "json":
            out(json.dumps(as_dict(project, views), indent=2))
        else:
            echo(as_table(project, views))
        return None

    def task_status() -> dict:
        return VERB.task(actions=[show])

    task_status.__doc__ = VERB.summary
    return task_status
