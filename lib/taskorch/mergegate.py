"""The merge gate (issue 12): a local merge queue for the git forge under `merge: auto`.

Before taskorch merges a delivered task, its verified commit is merged into the freshly fetched
base as a commit of its own (git.merge_commit: no checkout is touched), and the manifest's
`checks` run on that merge commit in a scratch worktree, in the background (verifyjob, kind
"checks"), so a long suite never holds the heartbeat.

- Green: exactly that merge commit is pushed as the base: a fast-forward, never forced. A base
  that moved meanwhile refuses it, and the next tick tests again on the new base. So two tasks
  that pass alone but break together cannot both land: the second is tested on a base that
  holds the first.
- Red, or a merge that conflicts: `reactions` decide (react). `agent` sends the task back to its
  agent in the same branch and worktree, a new round with the failure in its prompt
  (prompts/rework.md.j2), counted apart from crash attempts; after `max_rounds` rounds it is
  stuck. `notify` leaves it open for a person; `ignore` (checks only) leaves it open, unmerged.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from taskorch import git, verifyjob
from taskorch.layout import Layout, write_atomic
from taskorch.lifecycle import Event
from taskorch.project import Project
from taskorch.state import TaskRow, now
from taskorch.verify import Result

KIND = "checks"  # the verifyjob kind: runs/<id>/attempt-N.checks.json


class Status(Enum):
    PASSED = "passed"      # merge Verdict.merge, exactly
    RUNNING = "running"    # its checks run in the background
    FAILED = "failed"      # the checks failed on the merge
    CONFLICT = "conflict"  # the work does not merge cleanly into the base


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    merge: str | None = None       # the tested merge commit
    output: str = ""               # the failing checks' bounded, escape-free output
    conflicts: tuple[str, ...] = ()


def judge(project: Project, row: TaskRow, sha: str) -> Verdict:
    """What the gate says of delivered commit `sha` on the base as fetched this tick. Starts its
    checks when none ran on this merge yet."""
    layout, m = project.layout, project.manifest
    base_ref = f"origin/{m.base}"
    merge, conflicts = git.merge_commit(layout.clone, base_ref, sha,
                                        f"Merge {row.branch} (taskorch merge: auto)")
    onto = f"{sha[:8]} merged into {m.base}"
    if merge is None:
        return Verdict(Status.CONFLICT, f"it no longer merges cleanly into {m.base}: conflicts "
                       f"in {', '.join(conflicts) or 'some files'}", conflicts=tuple(conflicts))
    git.run("update-ref", f"refs/taskorch/{row.id}/gate", merge, cwd=layout.clone)  # kept from gc
    if not m.checks:
        return Verdict(Status.PASSED, f"{onto} (no checks)", merge)
    done = verifyjob.outcome(layout, row.id, row.attempts, merge, KIND)
    if done == verifyjob.RUNNING:
        return Verdict(Status.RUNNING, f"checks `{m.checks}` run on {onto}", merge)
    if done is None:
        verifyjob.stop(layout, row.id, row.attempts, KIND)  # an older merge's: the base moved
        tree = scratch(layout, row.id, merge)
        verifyjob.start(layout, row.id, row.attempts, Result(True, "", sha=merge), m.checks,
                        tree, m.verify_timeout_minutes,
                        layout.heartbeat_hook if m.hook else None, KIND)
        project.store.note(row.id, f"checks `{m.checks}` started on {onto} ({merge[:8]})")
        return Verdict(Status.RUNNING, f"checks `{m.checks}` run on {onto}", merge)
    if isinstance(done, Result) and done.ok:
        return Verdict(Status.PASSED, f"checks `{m.checks}` passed on {onto}", merge)
    reason = done.reason if isinstance(done, Result) else f"checks `{m.checks}` failed"
    return Verdict(Status.FAILED, f"{reason} on {onto}", merge,
                   output=done.output if isinstance(done, Result) else "")


def scratch(layout: Layout, task_id: str, commit: str) -> Path:
    """A fresh detached worktree at `commit` for the checks: nothing an earlier run built or
    left behind is seen."""
    path = layout.root / "gate" / task_id
    git.run("worktree", "remove", "--force", str(path), cwd=layout.clone, check=False)
    shutil.rmtree(path, ignore_errors=True)
    git.run("worktree", "prune", cwd=layout.clone)
    path.parent.mkdir(parents=True, exist_ok=True)
    git.run("worktree", "add", "--quiet", "--detach", str(path), commit, cwd=layout.clone)
    return path


def discard(layout: Layout, task_id: str) -> None:
    """The scratch worktree of a task that merged: its checks are done with."""
    path = layout.root / "gate" / task_id
    if path.exists():
        git.run("worktree", "remove", "--force", str(path), cwd=layout.clone, check=False)
        shutil.rmtree(path, ignore_errors=True)


def react(project: Project, row: TaskRow, verdict: Verdict) -> str:
    """What a red gate does to the task, by the manifest's reactions; '' when nothing changed
    (the same failure, already acted on, seen again on a later tick)."""
    m = project.manifest
    cause = "ci_failed" if verdict.status is Status.FAILED else "conflict"
    event = Event.CHECKS_FAILED if verdict.status is Status.FAILED else Event.CONFLICTED
    how = m.reaction(cause)
    if how != "agent":
        reason = (f"delivered: {row.delivery}; {verdict.reason}; not merged: "
                  + ("a person decides" if how == "notify" else f"reactions: {cause}: ignore"))
        if row.reason == reason:
            return ""
        project.store.transition(row.id, "pr_open", reason, event=event)
        return f"{row.id}: {reason}"
    most = m.reaction("max_rounds")
    if row.rounds >= most:
        reason = (f"{verdict.reason}; {row.rounds} rework round(s) spent (reactions: max_rounds: "
                  f"{most}): a person decides (`doit retry {row.id}` starts it again, its rounds reset)")
        project.store.transition(row.id, "stuck", reason, event=Event.ROUNDS_SPENT)
        return f"{row.id}: stuck: {reason}"
    round_ = row.rounds + 1
    rework = {"round": round_, "max_rounds": most, "why": verdict.reason, "checks": m.checks,
              "checks_output": verdict.output, "conflicts": list(verdict.conflicts),
              "cause": cause}
    # Written before the state changes, as heal.fail does: a tick killed between the two
    # leaves a pr_open task that the next tick judges again.
    write_atomic(project.layout.failure_file(row.id, row.attempts), json.dumps(
        {"reason": verdict.reason, "exit_code": None, "log_tail": "", "verify_output": "",
         "rework": rework}))
    reason = f"{verdict.reason}; back to its agent: rework round {round_} of {most}"
    # A round is not a crash: the attempt it starts is not counted against max_attempts.
    project.store.transition(row.id, "error", reason, event=event, retry_at=now(),
                             rounds=round_, budget_from=row.budget_from + 1)
    return f"{row.id}: {reason}"
