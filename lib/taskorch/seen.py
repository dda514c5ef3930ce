"""Every branch head taskorch has seen, kept under a ref of its own in the clone.

An agent's `git reset --hard` (or a rewrite) drops commits from its branch; without a ref they
would wait for git's garbage collection and the task would read "nothing was done". Kept here,
they are reported by sha and recoverable (`git branch rescue <sha>` in the clone).
"""

from __future__ import annotations

from pathlib import Path

from taskorch import git


def prefix(task_id: str) -> str:
    return f"refs/taskorch/{task_id}/seen/"


def keep(repo: Path, task_id: str, sha: str) -> None:
    git.run("update-ref", prefix(task_id) + sha, sha, cwd=repo)


def lost(repo: Path, task_id: str, tip: str) -> list[str]:
    """The heads seen for this task that `tip` no longer contains, oldest first."""
    kept = git.run("for-each-ref", "--sort=committerdate", "--format=%(objectname)",
                   prefix(task_id), cwd=repo).split()
    if not kept:
        return []
    missing = set(git.run("rev-list", *kept, "--not", tip, cwd=repo).split())
    return [sha for sha in kept if sha in missing]


def verified_ref(task_id: str) -> str:
    return f"refs/taskorch/{task_id}/verified"


def keep_verified(repo: Path, task_id: str, sha: str) -> None:
    """The commit verify passed, kept where a lost state store can find it again (recover.py)."""
    git.run("update-ref", verified_ref(task_id), sha, cwd=repo)


def verified(repo: Path, task_id: str) -> str | None:
    """The verified commit recorded for `task_id`, read from the ref file (no process)."""
    return git.ref_head(repo, verified_ref(task_id))
