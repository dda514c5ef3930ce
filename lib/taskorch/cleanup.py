"""Remove what finished work leaves behind: worktrees, local branches, sessions.

Nothing with work that exists nowhere else is removed without `force`: a worktree with
uncommitted changes, or commits that are not on the remote, is named and kept.
"""

from __future__ import annotations

import atexit
import shutil
from pathlib import Path

from taskorch import git
from taskorch.layout import Layout
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


def made_here(layout: Layout) -> set[str]:
    """The names taskorch creates directly in its work directory: the Layout's files, the
    per-task directories, SQLite's side files, a clone being made, the demo remote."""
    root = layout.root
    names = {layout.worktree("x").parent.name, layout.log("x").parent.name,
             layout.run_dir("x").parent.name, layout.clone.name + ".partial", "demo",
             "heartbeat-hook"}
    for name, attribute in vars(Layout).items():
        path = getattr(layout, name) if isinstance(attribute, property) else None
        if isinstance(path, Path) and path.parent == root:
            names.add(path.name)
    for db in (layout.state_db.name, layout.doit_db.name):
        names |= {db + suffix for suffix in ("-wal", "-shm", "-journal")}
    return names


def foreign(project: Project) -> list[str]:
    """What in the work directory taskorch did not make: the user's, never removed."""
    layout, ours = project.layout, made_here(project.layout)
    # write_atomic's half-written `.<name>.tmp` files are ours too
    return sorted(entry.name for entry in layout.root.iterdir()
                  if entry.name not in ours and not (entry.name.startswith(".")
                                                     and entry.name.endswith(".tmp")))


def holds_the_control_directory(project: Project) -> bool:
    root, manifest = project.layout.root.resolve(), project.manifest
    return any(path.resolve() == root or root in path.resolve().parents
               for path in (manifest.root, manifest.path))


def remove_ours(root: Path, names: set[str]) -> None:
    """Remove taskorch's own entries from `root`; a symlink goes, never what it points at."""
    for name in names:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_symlink() or path.exists():
            path.unlink(missing_ok=True)
    for leftover in root.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def everything(project: Project, force: bool = False) -> list[str]:
    """Tear it all down: every task's worktree, the tmux server, the clone, the work directory.

    A work directory that holds the control directory (`workdir: .`) or files taskorch did not
    make is not removed: only taskorch's own entries in it are."""
    clone, root = project.layout.clone, project.layout.root
    if clone.exists() and not force:
        kept = [f"{r.id}: {problem}" for r in project.store.rows().values()
                if (problem := unsaved(clone, r))]
        if kept:
            return [f"kept everything: {line}" for line in kept] + [
                "nothing was removed; --force removes it anyway"]
    # Only this project's sessions: a server shared through `socket:` stays for the others.
    server = ("the tmux server" if project.runner.kill_server()
              else "this project's tmux sessions (the shared server runs on for other projects)")
    project.store.close()
    others, home = foreign(project), holds_the_control_directory(project)
    # doit writes its own dependency file in the work directory when the run ends, so the
    # removal happens when the process exits, after that.
    if not others and not home:
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        return [f"removed {server}; {root} (clone, worktrees, logs, state) is removed as "
                "this run ends"]
    atexit.register(remove_ours, root, made_here(project.layout))
    why = (f"it holds the manifest {project.manifest.path}" if home
           else "it holds files taskorch did not make")
    return [f"removed {server}; taskorch's own files in {root} (clone, worktrees, logs, "
            "state) are removed as this run ends",
            f"kept {root} itself: {why}; kept: {', '.join(others) or '-'}"]
