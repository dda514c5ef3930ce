"""What remote jobs bring home (issue 11): a job that ended on a worker left its work at its
attempt's ref in the remote and its output in the task's log. Once per tick, for every task whose
job ended, this fetches all attempt refs in one call, moves the task's local branch to what its
job pushed, and writes the attempt's exit file and signals, so the rest of the tick verifies and
delivers it exactly like a local exit.
"""

from __future__ import annotations

import json
from pathlib import Path

from taskorch import git, signals
from taskorch.manifest import Task
from taskorch.project import Project
from taskorch.runners.base import Pane
from taskorch.runners.job import RESULT, START
from taskorch.runners.ship import result_ref
from taskorch.state import TaskRow
from taskorch.wrapper import record

FETCHED = "refs/remotes/origin/taskorch"  # where the remote's refs/taskorch/* land locally


def collect(project: Project, watched: list[Task], rows: dict[str, TaskRow],
            panes: dict[str, Pane]) -> list[str]:
    """Bring home every job that ended since the last tick; one line per task."""
    ended = [(task, row, code) for task in watched
             if (code := ended_with(project, row := rows[task.id], panes)) is not None]
    if not ended:
        return []
    git.run("fetch", "--quiet", "origin", f"+refs/taskorch/*:{FETCHED}/*",
            cwd=project.layout.clone)
    return [bring_home(project, task, row, code, why_of(panes.get(row.session or "")))
            for task, row, code in ended]


def why_of(pane: Pane | None) -> str | None:
    return pane.why if pane is not None else None


def ended_with(project: Project, row: TaskRow, panes: dict[str, Pane]) -> int | None:
    """The exit status of the attempt's job, once it has ended and not yet been brought home:
    the engine's record, else (a record the engine has forgotten) the job's own last line."""
    if row.status != "running" or project.layout.exit_file(row.id, row.attempts).exists():
        return None
    pane = panes.get(row.session or "")
    if pane is not None:
        return (pane.exit_status if pane.exit_status is not None else 1) if pane.dead else None
    result = job_result(attempt_lines(project.layout.log(row.id)))
    return int(result["code"]) if result else None


def bring_home(project: Project, task: Task, row: TaskRow, code: int,
               why: str | None = None) -> str:
    """`why`: the engine's word when the job ended without the agent's exit status."""
    layout = project.layout
    job = job_of(project, task.id, row.attempts)
    pushed = job and git.run(
        "rev-parse", "--verify", "--quiet",
        f"{FETCHED}/{result_ref(task.id, row.attempts, job)[len('refs/taskorch/'):]}",
        cwd=layout.clone, check=False)
    worktree = Path(row.worktree) if row.worktree else layout.worktree(task.id)
    if pushed:  # nobody works in a remote task's worktree: it follows what the job pushed
        git.run("reset", "--hard", "--quiet", pushed, cwd=worktree)
    profile = project.manifest.profile(task)
    if profile.events:
        parser = signals.parser(profile.events)
        for line in attempt_lines(layout.log(task.id)):
            parser.feed(line)
        signals.save(layout.signals_file(task.id, row.attempts), parser.result())
    record(layout.exit_file(task.id, row.attempts), code, why)
    got = f"its work {pushed[:8]}" if pushed else "no work (nothing pushed)"
    how = f"did not finish ({why})" if why else f"ended with {code}"
    return f"{task.id}: job of attempt {row.attempts} {how}; brought home {got}"


def job_of(project: Project, task_id: str, attempt: int) -> str | None:
    """The job launch published for the attempt (its commit, kept in the attempt's spec): its
    work is at its own ref, whatever other jobs pushed under the same attempt number."""
    try:
        return json.loads(project.layout.spec_file(task_id, attempt).read_text())["job"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def attempt_lines(log: Path) -> list[str]:
    """The log from the current attempt's first line (the job's START line) on: the log is
    appended attempt after attempt."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    starts = [i for i, line in enumerate(lines) if line.startswith(START)]
    return lines[starts[-1]:] if starts else lines


def job_result(lines: list[str]) -> dict | None:
    last = next((line for line in reversed(lines) if line.startswith(RESULT)), None)
    try:
        return json.loads(last[len(RESULT):]) if last else None
    except ValueError:
        return None
