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
