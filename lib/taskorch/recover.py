"""Rebuild a task's row from what git and the runner still hold, when the state store has none.

If `state.db` is lost (deleted, moved aside after corruption), every task would be seeded anew
as `pending`, and work already merged would run again: the same change twice on the base. The
clone remembers: each task's branch, the commit taskorch verified (refs/taskorch/<id>/verified),
the remote base, and any agent still running in its session. This module reads that evidence,
before anything launches, and says what state the task is really in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from taskorch import git, seen
from taskorch.layout import Layout
from taskorch.manifest import Manifest, Task

WHY = "rebuilt after the state store was lost"


@dataclass(frozen=True)
class Found:
    """A task's state as the evidence shows it, with the row fields to store."""

    status: str
    reason: str
    fields: dict[str, Any] = field(default_factory=dict)


def evidence(layout: Layout, manifest: Manifest, task: Task, session: str,
             alive: Callable[[str], bool]) -> Found | None:
    """What the clone (and the live sessions) say about `task`, or None when they hold nothing:
    a task never started. Reads ref files first, so a task without a branch costs no process."""
    clone = layout.clone
    branch = git.branch_name(task.id, task.title, task.issue)
    local, pushed = git.branch_head(clone, branch), git.branch_head(clone, branch, "origin")
    verified = seen.verified(clone, task.id)
    if not (local or pushed or verified):
        return None
    base = f"origin/{manifest.base}"
    sha = verified or pushed or local
    fork = git.run("merge-base", sha, base, cwd=clone, check=False) or None
    common = {"branch": branch, "attempts": 1, "base_commit": fork,
              "worktree": str(layout.worktree(task.id))}
    if alive(session):
        return Found("running", f"{WHY}: its agent is still running in session {session}",
                     {**common, "session": session})
    if fork and git.merged_into(clone, sha, fork, base):
        return Found("merged", f"{WHY}: {branch} ({sha[:8]}) is in {base}",
                     {**common, "verified": verified})
    if verified and pushed == verified:
        return Found("pr_open", f"{WHY}: the verified {verified[:8]} is pushed as {branch}",
                     {**common, "verified": verified, "delivery": f"origin/{branch}"})
    return Found("stuck", f"{WHY}: {branch} holds work ({sha[:8]}) that is not merged; "
                 f"`doit retry {task.id}` lets an agent finish and verify it, `doit skip "
                 f"{task.id}` sets it aside", common)
