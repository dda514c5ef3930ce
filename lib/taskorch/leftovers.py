"""What an agent left uncommitted, and which of it taskorch commits for it.

An agent that forgot `git commit` should not lose its work, so taskorch commits what it left.
But `git add -A` took a `.env` holding an API key, a 200 MB core dump, and a file another task
wrote into this worktree. So only what is plausibly this task's work is committed:

- never a file whose name says it holds a secret (`.env`, keys, credentials);
- never a file over MAX_BYTES (core dumps, build output);
- never a file outside the task's declared `files` (when it declares any);
- never ignored files (git's own rule);
- never aider's own files (`.aider*`: its chat and input history, its tags cache), nor a
  `.gitignore` change that only adds them, nor a `.gitignore` change that is the only change:
  aider adds `.aider*` there and exits 0 after an API failure or a question, and committing that
  made a no-op run complete (issue 9). A task that names the file in its `files` may change it.

Everything refused stays in the worktree, untouched, and is named in the task's reason.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from taskorch import git, overlap

MAX_BYTES = 5 * 1024 * 1024
SECRET_NAMES = (".env", ".env.*", "*.env", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx",
                "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".pypirc", ".npmrc",
                "credentials", "credentials.*", "*.credentials", "secrets.*", ".git-credentials",
                "*.keystore", "*.jks", "service-account*.json")
CORE_DUMPS = ("core", "core.[0-9]*", "*.core", "vgcore.*")
AIDER_FILES = ".aider*"
GITIGNORE_ALONE = "a .gitignore change alone is not work"


@dataclass(frozen=True)
class Leftovers:
    committed: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]  # (path, why)

    def note(self) -> str:
        """What the task's reason says about them; empty when there were none."""
        parts = []
        if self.committed:
            parts.append(f"taskorch committed changes the agent left uncommitted "
                         f"({len(self.committed)} file(s))")
        if self.refused:
            shown = ", ".join(f"{path} ({why})" for path, why in self.refused[:5])
            more = f" and {len(self.refused) - 5} more" if len(self.refused) > 5 else ""
            parts.append(f"left uncommitted: {shown}{more}")
        return "; ".join(parts)


def changed(worktree: Path) -> list[str]:
    """Paths with uncommitted changes (untracked ones included, ignored ones not)."""
    out = git.run("status", "--porcelain=v1", "-z", "--untracked-files=all", cwd=worktree,
                  strip=False)  # " M a" starts with a space: stripped, it read "M a" as "a"[1:]
    paths, entries = [], out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":  # a rename's source follows as its own entry
                i += 1
        i += 1
    return paths


def named(path: str, declared: tuple[str, ...]) -> bool:
    """Does the task name `path` itself in its `files` (not a directory or glob holding it)?"""
    return any(entry.strip("/") == path for entry in declared)


def aiders_own(path: str) -> bool:
    """A file aider keeps for itself: `.aider.chat.history.md`, `.aider.tags.cache.v4/...`."""
    return any(fnmatchcase(part, AIDER_FILES) for part in path.split("/"))


def is_gitignore(path: str) -> bool:
    return posixpath.basename(path) == ".gitignore"


def not_work(path: str, declared: tuple[str, ...]) -> bool:
    """A change to this path alone is not the task's work (verify.prepare asks the same of
    commits): aider's own files, or a `.gitignore`, unless the task names it."""
    return (aiders_own(path) or is_gitignore(path)) and not named(path, declared)


def only_aider_entries(worktree: Path, path: str) -> bool:
    """Does this `.gitignore` change only add aider's entries (`.aider*`) and blank lines?"""
    try:
        new = (worktree / path).read_text(encoding="utf-8", errors="replace").splitlines()
    except (FileNotFoundError, IsADirectoryError):
        return False
    old = git.run("show", f"HEAD:{path}", cwd=worktree, check=False, strip=False).splitlines()
    before, after = set(old), set(new)
    if not before <= after:
        return False  # it removed or changed a line: not aider's doing
    added = [line.strip().lstrip("/") for line in new if line not in before]
    return all(not line or fnmatchcase(line, AIDER_FILES) for line in added) and \
        any(added)


def refusal(worktree: Path, path: str, declared: tuple[str, ...]) -> str | None:
    """Why `path` is not committed for the agent, or None if it is."""
    name = posixpath.basename(path)
    if (worktree / path / ".git").exists():
        return "a submodule: commit inside it, then commit its new pointer"
    if not named(path, declared):
        if aiders_own(path):
            return "aider's own files"
        if is_gitignore(path) and only_aider_entries(worktree, path):
            return "only adds aider's own files to it"
    if any(fnmatchcase(name, pattern) for pattern in SECRET_NAMES):
        return "looks like a secret"
    if any(fnmatchcase(name, pattern) for pattern in CORE_DUMPS):
        return "looks like a core dump"
    try:
        size = os.lstat(worktree / path).st_size
    except FileNotFoundError:
        size = 0  # a deletion
    if size > MAX_BYTES:
        return f"{size / 1024 / 1024:.0f} MB, over the {MAX_BYTES // 1024 // 1024} MB limit"
    if declared and not any(overlap.overlaps(path, entry) for entry in declared):
        return "outside the task's files"
    return None


def commit(worktree: Path, task_id: str, declared: tuple[str, ...]) -> Leftovers:
    """Commit the plausible part of what the agent left; report the rest."""
    paths = changed(worktree)
    if not paths:
        return Leftovers((), ())
    verdicts = [(path, refusal(worktree, path, declared)) for path in paths]
    if all(not_work(path, declared) for path, why in verdicts if why is None):
        verdicts = [(path, why or GITIGNORE_ALONE) for path, why in verdicts]
    accepted = tuple(path for path, why in verdicts if why is None)
    refused = tuple((path, why) for path, why in verdicts if why is not None)
    if accepted:
        git.run("reset", "--quiet", cwd=worktree)  # what the agent staged is judged like the rest
        pathspec = worktree.parent / f".{worktree.name}.leftovers"
        pathspec.write_bytes(b"\0".join(p.encode() for p in accepted))
        try:
            git.run("--literal-pathspecs", "add", "--all", f"--pathspec-from-file={pathspec}",
                    "--pathspec-file-nul", cwd=worktree)
        finally:
            pathspec.unlink(missing_ok=True)
        git.run(*git.IDENTITY, "commit", "--quiet", "--no-verify", "-m",
                f"taskorch: commit what {task_id}'s agent left uncommitted", cwd=worktree)
    return Leftovers(accepted, refused)
