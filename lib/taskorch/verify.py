"""Is "done" real? A finished agent's work counts only with commits, a clean tree, and a green
`verify`.

Uncommitted changes are committed by taskorch with a message that says so, rather than refused:
an agent that forgot `git commit` should not lose its work, and the journal records it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from taskorch import git
from taskorch.manifest import Task
from taskorch.screen import clean

IDENTITY = ("-c", "user.name=taskorch", "-c", "user.email=taskorch@localhost")


@dataclass(frozen=True)
class Result:
    ok: bool
    reason: str
    output: str = ""  # the tail of a failed verify command


def check(task: Task, worktree: Path, base_commit: str, timeout_minutes: float) -> Result:
    if not (worktree / ".git").exists():
        return Result(False, f"its worktree {worktree} is missing")
    note = ""
    if git.is_dirty(worktree):
        git.run("add", "-A", cwd=worktree)
        git.run(*IDENTITY, "commit", "--quiet", "--no-verify", "-m",
                f"taskorch: commit what {task.id}'s agent left uncommitted", cwd=worktree)
        note = "; taskorch committed changes the agent left uncommitted"
    commits = git.commits_beyond(worktree, base_commit)
    if commits == 0:
        return Result(False, "it finished with no commits beyond its base, so nothing was done")
    if task.verify:
        try:
            proc = subprocess.run(["sh", "-c", task.verify], cwd=worktree, capture_output=True,
                                  text=True, errors="replace", timeout=timeout_minutes * 60)
        except subprocess.TimeoutExpired:
            return Result(False, f"verify `{task.verify}` ran over {timeout_minutes:g} min")
        if proc.returncode != 0:
            output = "\n".join(clean(proc.stdout + proc.stderr).splitlines()[-40:])
            return Result(False, f"verify `{task.verify}` exited {proc.returncode}", output)
    checked = f", verify `{task.verify}` passed" if task.verify else ""
    return Result(True, f"verified: {commits} commit(s) beyond its base{checked}{note}")
