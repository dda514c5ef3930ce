"""The merge gate (issue 12): a local merge queue for the git forge under `merge: auto`.

Each tick the delivered tasks form a queue, in manifest order. Each one's verified commit is
merged, as a commit of its own (git.merge_commit: no checkout is touched), onto the freshly
fetched base, or onto the merge of the one ahead of it: speculatively, as a merge queue does, so
N tasks land in about one run of the checks rather than N. The manifest's `checks` run on each
merge in a scratch worktree, in the background (verifyjob, kind "checks"), at most max_parallel
at once, so a long suite never holds the heartbeat.

- Green from the front: the last merge of the passed run is pushed as the base: a fast-forward,
  never forced; every task in it is merged. A base that moved meanwhile refuses it, and the next
  tick tests again on the new base. Two tasks that pass alone but break together cannot both
  land: the second is tested on a merge that holds the first.
- Red, or a merge that conflicts, with every task ahead of it passed: `reactions` decide
  (react). `agent` sends the task back to its agent in the same branch and worktree, a new
  round with the failure in its prompt (prompts/rework.md.j2), counted apart from crash
  attempts; after `max_rounds` rounds it is stuck. `notify` leaves it open for a person;
  `ignore` (checks only) leaves it open, unmerged. With tasks ahead still running, it waits.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Callable

from taskorch import git, verifyjob
from taskorch.forges.base import Delivery, DeliveryError, Forge, Review
from taskorch.layout import Layout, write_atomic
from taskorch.lifecycle import Event
from taskorch.project import Project
from taskorch.state import TaskRow, now
from taskorch.verify import Result

KIND = "checks"  # the verifyjob kind: runs/<id>/attempt-N.checks.json


class Status(Enum):
    PASSED = "passed"      # merge Verdict.merge, exactly
    RUNNING = "running"    # its checks run in the background
    WAITING = "waiting"    # its checks wait for a free place in the queue's window
    FAILED = "failed"      # the checks failed on the merge
    CONFLICT = "conflict"  # the work does not merge cleanly into the base
    CHANGES = "changes"    # a reviewer asked for changes (github)


# What each failure is called in `reactions:`, and the event that records it.
CAUSES = {Status.FAILED: ("ci_failed", Event.CHECKS_FAILED),
          Status.CONFLICT: ("conflict", Event.CONFLICTED),
          Status.CHANGES: ("changes_requested", Event.CHANGES_REQUESTED)}


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str
    merge: str | None = None       # the tested merge commit
    output: str = ""               # the failing checks' bounded, escape-free output
    conflicts: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()  # a review's words (github)


def land(project: Project, forge: Forge, rows: list[TaskRow]) -> list[str]:
    """This tick's queue: the open tasks in manifest order, each merged onto the one before it
    (the first onto the base), as a merge queue tests them: speculatively, so a queue of N
    lands in about one run of the checks, not N. The longest run of passed merges from the
    front is pushed at once, as its last merge. A failure or conflict is acted on only when
    every task ahead of it passed: then it was tested on exactly what lands before it. Until
    then it waits, left out of the chain, and is judged again on a later tick."""
    m, clone = project.manifest, project.layout.clone
    order = {t.id: i for i, t in enumerate(m.tasks)}
    tip = git.run("rev-parse", f"origin/{m.base}", cwd=clone)
    window, ahead, landing, lines = m.max_parallel, [], [], []
    settled = True  # every task ahead in the chain passed
    judged: list[tuple[TaskRow, Verdict, bool]] = []  # failures to act on, and if tasks were ahead
    for row in sorted(rows, key=lambda r: order.get(r.id, len(order))):
        verdict = judge(project, row, tip, ahead, may_start=window > 0)
        if verdict.status in (Status.FAILED, Status.CONFLICT):
            if settled:
                judged.append((row, verdict, bool(ahead)))
            continue
        if verdict.status is Status.WAITING:
            break  # the rest would be tested on it: they wait too
        window -= verdict.status is Status.RUNNING
        settled = settled and verdict.status is Status.PASSED
        if settled:
            landing.append((row, verdict))
        tip, ahead = verdict.merge or tip, ahead + [row.id]
    landed = True
    if landing:
        pushed = push(project, forge, landing)
        landed = pushed is not None
        lines += pushed or [f"{landing[-1][0].id}: {project.manifest.base} moved on the remote "
                            "since the merge was tested, or the push failed; tested again"]
    # After the push: a failure behind tasks that did not land was not tested on the new base.
    lines += [react(project, row, verdict) for row, verdict, behind in judged
              if landed or not behind]
    return [line for line in lines if line]


def hold(project: Project, forge: Forge, row: TaskRow, delivery: Delivery,
         review: Review) -> list[str] | None:
    """The gate of a forge whose pull requests carry their own checks and reviews (github).
    None: nothing holds the delivery back (merge: auto merges it). Else what was done: a
    failure reacted to (react), or [] while checks or a required review are pending."""
    base, sha = project.manifest.base, (delivery.sha or "")[:8]
    at = f"{delivery.ref} at {sha}"
    if review.conflict:
        verdict = Verdict(Status.CONFLICT, f"{at} no longer merges cleanly into {base}")
    elif review.checks == "failed":
        verdict = Verdict(Status.FAILED, f"checks failed on {at}: {', '.join(review.failed)}")
    elif review.decision == "CHANGES_REQUESTED":
        verdict = Verdict(Status.CHANGES, f"changes requested on {at}")
    elif review.checks == "pending" or review.decision == "REVIEW_REQUIRED":
        return []
    else:
        return None

    def explained(v: Verdict) -> Verdict:
        told = forge.details(delivery, review)
        conflicts = v.conflicts
        if v.status is Status.CONFLICT:  # GitHub does not name them; a local merge does
            conflicts = tuple(git.merge_commit(project.layout.clone, f"origin/{base}",
                                               delivery.sha or "", "probe")[1])
        return replace(v, output=told.output, comments=told.comments, conflicts=conflicts)
    return [line for line in [react(project, row, verdict, explained)] if line]


def push(project: Project, forge: Forge,
         landing: list[tuple[TaskRow, Verdict]]) -> list[str] | None:
    """Push the last passed merge as the base (no force); each task in it is merged. None when
    the push failed (the base moved, or the remote did not answer): nothing is merged."""
    last_row, last = landing[-1]
    try:
        forge.merge(last_row.branch, Delivery(ref=last_row.delivery or "",
                                              sha=last_row.verified), last.merge)
    except DeliveryError:  # BaseMoved among them
        return None
    lines = []
    for row, verdict in landing:
        how = f"merged into {project.manifest.base} by taskorch (merge: auto)" + (
            f"; {verdict.reason}" if project.manifest.checks else "")
        project.store.transition(row.id, "merged", how, event=Event.MERGED,
                                 completed_at=row.completed_at or now())
        discard(project.layout, row.id)
        lines.append(f"{row.id}: {how}")
    return lines


def judge(project: Project, row: TaskRow, onto: str, ahead: list[str],
          may_start: bool = True) -> Verdict:
    """What the gate says of the task's verified commit merged onto `onto` (the fetched base,
    or the merge of the tasks `ahead` of it in the queue). Starts its checks when none ran on
    this merge yet and `may_start`."""
    layout, m = project.layout, project.manifest
    sha = row.verified or ""
    merge, conflicts = merged(layout, row, onto, sha, bool(m.checks))
    # Tasks ahead are named in what is running, not in a failure's reason: a failure is acted
    # on once they have landed, and the same failure, seen again, must read the same.
    where = f"{sha[:8]} merged into {m.base}"
    running = where + (f" after {', '.join(ahead)}" if ahead else "")
    if merge is None:
        return Verdict(Status.CONFLICT, f"it no longer merges cleanly into {m.base}: conflicts "
                       f"in {', '.join(conflicts) or 'some files'}", conflicts=tuple(conflicts))
    if not m.checks:
        return Verdict(Status.PASSED, f"{where} (no checks)", merge)
    done = verifyjob.outcome(layout, row.id, row.attempts, merge, KIND)
    if done == verifyjob.RUNNING:
        return Verdict(Status.RUNNING, f"checks `{m.checks}` run on {running}", merge)
    if done is None and not may_start:
        return Verdict(Status.WAITING, f"checks `{m.checks}` wait to run on {running}", merge)
    if done is None:
        verifyjob.stop(layout, row.id, row.attempts, KIND)  # an older merge's: the base moved
        tree = scratch(layout, row.id, merge)
        verifyjob.start(layout, row.id, row.attempts, Result(True, "", sha=merge), m.checks,
                        tree, m.verify_timeout_minutes,
                        layout.heartbeat_hook if m.hook else None, KIND)
        project.store.note(row.id, f"checks `{m.checks}` started on {running} ({merge[:8]})")
        return Verdict(Status.RUNNING, f"checks `{m.checks}` run on {running}", merge)
    if isinstance(done, Result) and done.ok:
        return Verdict(Status.PASSED, f"checks `{m.checks}` passed on {where}", merge)
    reason = done.reason if isinstance(done, Result) else f"checks `{m.checks}` failed"
    return Verdict(Status.FAILED, f"{reason} on {where}", merge,
                   output=done.output if isinstance(done, Result) else "")


def merged(layout: Layout, row: TaskRow, onto: str, sha: str,
           checks: bool) -> tuple[str | None, list[str]]:
    """git.merge_commit, remembered per task (`runs/<id>/gate.json`): a task held open by a
    failure is judged every tick on the same base, and asking git again cost five processes."""
    memo = layout.run_dir(row.id) / "gate.json"
    try:
        known = json.loads(memo.read_text())
        if known["onto"] == onto and known["sha"] == sha:
            return known["merge"], known["conflicts"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    merge, conflicts = git.merge_commit(layout.clone, onto, sha,
                                        f"Merge {row.branch} (taskorch merge: auto)")
    if merge and checks:  # kept from gc while its checks run (without, it is pushed at once)
        git.run("update-ref", f"refs/taskorch/{row.id}/gate", merge, cwd=layout.clone)
    write_atomic(memo, json.dumps({"onto": onto, "sha": sha, "merge": merge,
                                   "conflicts": conflicts}))
    return merge, conflicts


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


def react(project: Project, row: TaskRow, verdict: Verdict,
          explained: Callable[[Verdict], Verdict] | None = None) -> str:
    """What a failed gate does to the task, by the manifest's reactions; '' when nothing changed
    (the same failure, already acted on, seen again on a later tick). `explained` adds the
    failure's words (logs, comments) once it is acted on: for a forge each is a call."""
    m = project.manifest
    cause, event = CAUSES[verdict.status]
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
                  f"{most}): a person decides (`doit retry {row.id}` starts it again, its rounds "
                  "reset)")
        project.store.transition(row.id, "stuck", reason, event=Event.ROUNDS_SPENT)
        return f"{row.id}: stuck: {reason}"
    verdict = explained(verdict) if explained else verdict
    round_ = row.rounds + 1
    rework = {"round": round_, "max_rounds": most, "why": verdict.reason, "checks": m.checks,
              "checks_output": verdict.output, "conflicts": list(verdict.conflicts),
              "comments": list(verdict.comments), "cause": cause}
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
