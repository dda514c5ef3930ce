"""`doit status`: every task's state and why, as a table or JSON; `--task ID` for one task."""

from __future__ import annotations

import json
import shutil
import sys
import time
from typing import Any, Callable

from doit.exceptions import TaskFailed

from taskorch import budget, lock, signals, wakeup
from taskorch.commands.usage import Verb
from taskorch.notify import queue as notify_queue
from taskorch.state import epoch, stamp
from taskorch.terminal import echo, out
from taskorch.project import NOT_STARTED, Project, View, tally

# The session is left out (`doit status --task ID` shows it; `doit attach ID` takes the id), and
# branches are cut: a row must fit a terminal of 100 columns before its reason.
COLUMNS = ("id", "phase", "state", "try", "branch", "age", "active", "why")
BRANCH_WIDTH = 28
FULL_TABLE = 200  # tasks: past this, the table lists what moves or needs you, unless --all
QUIET = frozenset({"blocked", "merged", "skipped"})
LONG_HELD = 60  # seconds: a tick takes about one; a lock held longer is worth naming
OVERDUE = 60    # seconds: a retry this late means no heartbeat ran when it fell due


def age(stamp: str | None) -> str:
    if not stamp:
        return "-"
    return span(time.time() - (epoch(stamp) or time.time()))


def span(seconds: float) -> str:
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def health(project: Project) -> dict[str, Any]:
    """Why nothing may be moving: the last tick, a lock held for long, retries whose time passed
    with no heartbeat, rows of tasks the manifest no longer has, and failing notify sinks."""
    now, layout = time.time(), project.layout
    try:
        at, _, summary = layout.last_tick.read_text().strip().partition(" ")
        last: dict | None = {"at": at, "seconds": int(now - (epoch(at) or now)), "summary": summary}
    except (OSError, ValueError):
        last = None
    held = lock.holder(layout.lock)
    due = wakeup.pending(layout)
    errors = project.store.rows("error")
    return {
        "lastTick": last,
        "nextTick": stamp(due) if due else None,
        "lock": ({"pid": held[0], "seconds": int(now - held[1])}
                 if held and now - held[1] > LONG_HELD else None),
        "overdueRetries": [{"id": t.id, "retryAt": errors[t.id].retry_at}
                           for t in project.manifest.tasks if t.id in errors
                           and (epoch(errors[t.id].retry_at) or now) < now - OVERDUE],
        # tasks whose agents did not report a budgeted figure: counted as 0 (budget.py)
        "budgetBlind": budget.blind(project),
        "notInManifest": [{"id": i, "status": r.status, "session": r.session, "reason": r.reason}
                          for i, r in sorted(project.orphans().items())],
        # notification sinks whose last call failed (notify/queue.py)
        "notify": notify_queue.health(layout),
    }


def health_line(h: dict[str, Any]) -> str:
    now = time.time()
    last = h["lastTick"]
    parts = [f"last tick {span(last['seconds'])} ago" if last else "no heartbeat has run yet"]
    if h["nextTick"]:
        parts.append(f"next tick in {span((epoch(h['nextTick']) or now) - now)}")
    if h["lock"]:
        parts.append(f"lock held by pid {h['lock']['pid']} for {span(h['lock']['seconds'])}")
    if h["overdueRetries"]:
        parts.append("retry overdue: " + ", ".join(
            f"{r['id']} (due {span(now - (epoch(r['retryAt']) or now))} ago)"
            for r in h["overdueRetries"]))
    if h.get("budgetBlind"):
        parts.append("budget cannot see usage not reported by " + ", ".join(h["budgetBlind"])
                     + " (counted as 0)")
    if h.get("notify"):
        parts.append(notify_queue.health_text(h["notify"]))
    if h["notInManifest"]:
        parts.append("not in the manifest: " + ", ".join(
            f"{r['id']} ({r['status']})" for r in h["notInManifest"]))
    return "health: " + "; ".join(parts)


def usage_of(project: Project, views: dict[str, View]) -> dict[str, dict[str, Any] | None]:
    """Each listed task's tokens and cost, summed over its attempts (issue 9, part 8)."""
    return {task_id: signals.usage(said for _, said in signals.attempts(
        project.layout, task_id, view.row.attempts)) for task_id, view in views.items()}


def as_dict(project: Project, views: dict[str, View]) -> dict[str, Any]:
    m = project.manifest
    usage = usage_of(project, views)
    return {"health": health(project),
            "usage": signals.summed(u for u in usage.values() if u),
            "tasks": [{
        "id": t.id, "phase": m.phases[t.phase].name, "status": views[t.id].status,
        "reason": views[t.id].reason, "attempts": views[t.id].row.attempts,
        "rounds": views[t.id].row.rounds,  # merge-gate rework rounds (mergegate.py)
        "branch": views[t.id].row.branch, "worktree": views[t.id].row.worktree,
        "session": views[t.id].row.session, "prNumber": views[t.id].row.pr_number,
        "delivery": views[t.id].row.delivery,
        "startedAt": views[t.id].row.started_at, "completedAt": views[t.id].row.completed_at,
        "lastProgress": views[t.id].row.last_progress, "usage": usage[t.id],
        "job": job_of(project, views[t.id].row),
    } for t in m.tasks if t.id in views]}


def job_of(project: Project, row: Any) -> str | None:
    """The engine's id of the task's current job (remote runners); None under tmux."""
    try:
        return project.layout.job_file(row.id, row.attempts).read_text().strip() or None
    except OSError:
        return None


def quiet_ids(project: Project, statuses: dict[str, str], everything: bool) -> dict[str, str]:
    """The tasks a big table leaves out, with their state: blocked (by their gates now), merged
    and skipped ones. A glance at 20,000 rows shows nothing, and writing each blocked task's
    reason cost most of a big project's `doit status`."""
    if everything or len(project.manifest.tasks) <= FULL_TABLE:
        return {}
    plan = project.plan
    unfinished = plan.unfinished(statuses)
    out = {}
    for task in project.manifest.tasks:
        status = statuses[task.id]
        if status in NOT_STARTED and plan.waiting(task.id, statuses, unfinished):
            out[task.id] = "blocked"
        elif status in QUIET:
            out[task.id] = status
    return out


def as_table(project: Project, views: dict[str, View], left_out: dict[str, str]) -> str:
    m = project.manifest
    rows = [COLUMNS] + [(
        t.id, str(t.phase + 1), views[t.id].status, str(views[t.id].row.attempts),
        cut(views[t.id].row.branch or "-", BRANCH_WIDTH), age(views[t.id].row.updated_at),
        age(views[t.id].row.last_progress) if views[t.id].status in ("running", "stuck") else "-",
        views[t.id].reason.replace("\n", " ") or "-",
    ) for t in m.tasks if t.id in views]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    width = terminal_width()
    lines = [cut("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1], width)
             for r in rows]
    summary = tally([view.status for view in views.values()] + list(left_out.values()))
    phases = "  ".join(f"{p + 1}={phase.name}" for p, phase in enumerate(m.phases))
    hidden = ([f"{len(left_out)} more not listed ({tally(left_out.values())});"
               " `doit status --all` lists every task"] if left_out else [])
    total = signals.summed(u for u in usage_of(project, views).values() if u)
    spent = ([f"usage{' of the listed tasks' if left_out else ''}: {signals.usage_text(total)}"]
             if total else [])
    return "\n".join(lines + hidden + ["", f"{len(m.tasks)} tasks: {summary}", *spent,
                                       f"phases: {phases}", health_line(health(project))])


def terminal_width() -> int | None:
    """The terminal's width when a person reads the table; None (no cutting) in a pipe, where a
    script wants whole reasons."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def cut(text: str, width: int | None) -> str:
    """`text` cut to `width` with an ellipsis: rows are truncated, never wrapped."""
    return text if width is None or len(text) <= width else text[:max(width - 1, 1)] + "…"


def one_task(project: Project, views: dict[str, View], task_id: str, log_lines: int = 20) -> str:
    view = views[task_id]
    row = view.row
    rounds = f", rework round {row.rounds}" if row.rounds else ""
    out = [f"{task_id}: {view.status} (attempt {row.attempts}{rounds}) - {view.reason or '-'}",
           f"  branch {row.branch or '-'}  worktree {row.worktree or '-'}  session {row.session or '-'}",
           "", "journal:"]
    out += [f"  {e.at}  {e.old or '-'} -> {e.new}: {e.reason}"
            for e in project.store.events(task_id, limit=10)]
    reports = signals.attempts(project.layout, task_id, row.attempts)
    if reports:
        out += ["", "usage:"] + [f"  attempt {n}: {signals.usage_text(signals.usage([said]))}"
                                 for n, said in reports]
        if len(reports) > 1:
            out.append(f"  total: {signals.usage_text(signals.usage(s for _, s in reports))}")
    log = project.layout.log(task_id)
    if log.exists():
        tail = log.read_bytes()[-65536:].decode("utf-8", errors="replace").splitlines()[-log_lines:]
        out += ["", f"last {len(tail)} log lines ({log}):"] + [f"  {line}" for line in tail]
    return "\n".join(out)


VERB = Verb(
    "status", "Show every task's state, attempt, last activity and why (--format json, --task ID, "
              "--watch).",
    params=({"name": "format", "long": "format", "short": "f", "default": "table",
             "choices": [("table", ""), ("json", "")], "metavar": "FORMAT",
             "help": "output format: table (default) or json"},
            {"name": "task", "long": "task", "short": "t", "default": "", "metavar": "ID",
             "help": "show one task: its journal and the last lines of its log"},
            {"name": "all", "long": "all", "short": "a", "type": bool, "default": False,
             "help": f"list every task (past {FULL_TABLE}, the quiet ones are only counted)"},
            {"name": "watch", "long": "watch", "short": "w", "type": bool, "default": False,
             "help": "live, refreshed in place until Ctrl-C: needs-you first, then running"},
            {"name": "interval", "long": "interval", "type": float, "default": 2.0,
             "metavar": "SECONDS", "help": "with --watch: seconds between refreshes (default 2)"},
            {"name": "agent", "long": "agent", "default": "", "metavar": "NAME",
             "help": "only one agent profile's tasks (human: a person's)"}),
    details="Reads the state store only: it starts, stops and changes nothing. With --watch, "
            "each row is cut to the terminal's width and the table to its height; colour shows "
            "on a terminal only, never when NO_COLOR is set; in a pipe each refresh is printed "
            "as plain text.",
    examples=("doit status", "doit status --task t3", "doit status --format json",
              "doit status --watch", "doit status --agent claude"))


def by_agent(project: Project, agent: str, format: str) -> TaskFailed | None:
    """The table (or JSON) of one agent profile's tasks: every one of them, quiet or not."""
    m = project.manifest
    names = sorted({m.profile(t).name for t in m.tasks})
    ids = {t.id for t in m.tasks if m.profile(t).name == agent}
    if not ids:
        return TaskFailed(f"status: no task of agent '{agent}' in {m.path.name}; its tasks' "
                          f"agents: {', '.join(names)}")
    views = project.views(only=ids)
    if format == "json":
        out(json.dumps(as_dict(project, views), indent=2))
    else:
        echo(as_table(project, views, {}))
    return None


def creator(project: Project) -> Callable[[], dict]:
    def show(format: str, task: str, all: bool, watch: bool, interval: float,
             agent: str) -> str | None:
        if agent and (watch or task):
            return TaskFailed("status: --agent lists a table or JSON of one agent's tasks; it "
                              "does not combine with --watch or --task")
        if agent:
            return by_agent(project, agent, format)
        if watch:
            from taskorch.commands import watch as live  # it imports this module
            live.run(project, interval)
        elif task:
            if task not in project.task_ids:
                return TaskFailed(f"status: no task '{task}' in {project.manifest.path.name}")
            echo(one_task(project, project.views(only={task}), task))
        elif format == "json":
            out(json.dumps(as_dict(project, project.views()), indent=2))
        else:
            statuses = project.store.statuses()
            quiet = quiet_ids(project, statuses, all)
            listed = project.task_ids - quiet.keys()
            rows = project.store.rows_of(listed) if quiet else project.store.rows()
            echo(as_table(project, project.views(rows, only=listed, statuses=statuses), quiet))
        return None

    def task_status() -> dict:
        return VERB.task(actions=[show])

    task_status.__doc__ = VERB.summary
    return task_status
