"""Remove what finished work leaves behind: worktrees, local branches, sessions.

Nothing with work that exists nowhere else is removed without `force`: a worktree with
uncommitted changes, or commits that are not on the remote, is named and kept.
"""

from __future__ import annotations

import atexit
import shutil
from pathlib import Path

from taskorch import git
from taskorch.project import Project
from taskorch.state import TaskRow


def unsaved(clone: Path, row: TaskRow) -> str | None:
    """Why removing this task's worktree or branch would lose work, or None."""
    worktree = Path(row.worktree) if row.worktree else None
    if worktree and (worktree / ".git").exists() and git.is_dirty(worktree):
        return f"{worktree} has uncommitted changes"
    if row.branch and git.has_ref(clone, f"refs/heads/{row.branch}"):
        count = int(git.run("rev-list", "--count", f"refs/heads/{row.branch}", "--not",
                            "--remotes=origin", cwd=clone) or 0)
        if count:
            return f"{row.branch} has {count} commit(s) that are not on the remote"
    return None


def remove_task(project: Project, row: TaskRow, force: bool = False) -> str:
    """Remove one task's session, worktree and local branch; say what was done or refused."""
    clone = project.layout.clone
    if not force and (problem := unsaved(clone, row)):
        return f"{row.id}: kept: {problem} (--force removes it anyway)"
    if row.session:
        project.runner.stop(row.session)
    worktree = Path(row.worktree) if row.worktree else project.layout.worktree(row.id)
    if (worktree / ".git").exists():
        git.run("worktree", "remove", "--force", str(worktree), cwd=clone)
    git.run("worktree", "prune", cwd=clone)
    if row.branch and git.has_ref(clone, f"refs/heads/{row.branch}"):
        git.run("branch", "-D", row.branch, cwd=clone)
    project.store.update({row.id: {"worktree": None, "session": None}})
    return f"{row.id}: removed its worktree, branch {row.branch} and session"


def merged(project: Project) -> list[TaskRow]:
    return [r for r in project.store.rows("merged").values() if r.worktree or r.session]


def everything(project: Project, force: bool = False) -> list[str]:
    """Tear it all down: every task's worktree, the tmux server, the clone, the work directory."""
    clone = project.layout.clone
    if clone.exists() and not force:
        kept = [f"{r.id}: {problem}" for r in project.store.rows().values()
                if (problem := unsaved(clone, r))]
        if kept:
            return [f"kept everything: {line}" for line in kept] + [
                "nothing was removed; --force removes it anyway"]
    project.runner.kill_server()
    project.store.close()
    # doit writes its own dependency file in the work directory when the run ends, so the
    # directory goes when the process exits, after that.
    atexit.register(shutil.rmtree, project.layout.root, ignore_errors=True)
    return [f"removed the tmux server; {project.layout.root} (clone, worktrees, logs, state) "
            "is removed as this run ends"]
