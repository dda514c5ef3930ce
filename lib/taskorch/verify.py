"""Is "done" real? A finished agent's work counts only as one known commit on the task branch,
with commits beyond its base and a green `verify`. That commit's sha is what is delivered.

- The task branch, not HEAD, is what is judged and pushed. Commits an agent left on a detached
  HEAD or another branch are brought onto the task branch when they extend it, and named in the
  failure when they do not.
- Commits taskorch saw on the branch (seen.py) that are gone from it are reported by sha, never
  as "nothing was done".
- Uncommitted work is committed for the agent, within the rules of leftovers.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from taskorch import git, leftovers, overlap, seen
from taskorch.manifest import Task
from taskorch.screen import clean


@dataclass(frozen=True)
class Result:
    ok: bool
    reason: str
    output: str = ""  # the tail of a failed verify command
    sha: str | None = None  # the verified commit: what delivery pushes and merges
    note: str = ""  # what a pass adds after the reason: the sha delivered, leftovers, losses
    nothing: bool = False  # it failed because no work was done at all


def passed(ready: Result, command: str | None) -> Result:
    """The Result of a prepared commit whose verify command (if any) passed."""
    checked = f", verify `{command}` passed" if command else ""
    return Result(True, f"{ready.reason}{checked}; {ready.note}", sha=ready.sha)


def prepare(task: Task, worktree: Path, branch: str, base_commit: str) -> Result:
    """Everything but the verify command: the branch, leftovers, commits beyond the base. An ok
    Result names the commit (sha) that the verify command is then run on."""
    if not (worktree / ".git").exists():
        return Result(False, f"its worktree {worktree} is missing")
    problem = onto_branch(worktree, branch)
    if problem:
        return Result(False, problem)
    left = leftovers.commit(worktree, task.id, task.files)
    sha = git.run("rev-parse", f"refs/heads/{branch}", cwd=worktree)
    lost = seen.lost(worktree, task.id, sha)
    lost_note = (f"commit(s) {', '.join(c[:8] for c in lost)} seen earlier are no longer on "
                 f"{branch} (kept as refs under {seen.prefix(task.id)})") if lost else ""
    commits = int(git.run("rev-list", "--count", sha, "--not", base_commit, cwd=worktree) or 0)
    if commits == 0:
        what = f"its branch lost its work: {lost_note}" if lost else \
            "it finished with no commits beyond its base, so nothing was done"
        return Result(False, "; ".join(filter(None, [what, left.note()])), nothing=not lost)
    bookkeeping = not_work(task, worktree, base_commit, sha)
    if bookkeeping:
        what = (f"its commits beyond its base only change {bookkeeping}, which is not work, so "
                f"nothing was done")
        return Result(False, "; ".join(filter(None, [what, left.note()])), nothing=True)
    return Result(True, f"verified: {commits} commit(s) beyond its base", sha=sha,
                  note="; ".join(filter(None, [f"delivering {sha[:8]}", left.note(), lost_note,
                                               outside_note(task, worktree, base_commit, sha)])))


def not_work(task: Task, worktree: Path, base_commit: str, sha: str) -> str:
    """The files, when every file the task's commits change is `.gitignore` or aider's own
    (aider commits its `.aider*` entry itself, in versions before --no-gitignore or in a run
    without it): a no-op run, however many commits it made. Empty otherwise."""
    changed = git.run("diff", "--no-ext-diff", "--name-only", base_commit, sha,
                      cwd=worktree).splitlines()
    if not changed or not all(leftovers.not_work(path, task.files) for path in changed):
        return ""
    more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
    return ", ".join(changed[:5]) + more


def outside_note(task: Task, worktree: Path, base_commit: str, sha: str) -> str:
    """Files the task's commits change beyond its declared `files`: allowed, but said (in the
    reason, and so in `doit status` and the pull request), since same-file ordering did not
    cover them."""
    if not task.files:
        return ""
    changed = git.run("diff", "--name-only", base_commit, sha, cwd=worktree).splitlines()
    outside = [path for path in changed
               if not any(overlap.overlaps(path, entry) for entry in task.files)]
    if not outside:
        return ""
    more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
    return f"changed files outside its declared files: {', '.join(outside[:5])}{more}"


def onto_branch(worktree: Path, branch: str) -> str | None:
    """Put the worktree back on the task branch, carrying commits the agent made elsewhere;
    a reason when that would drop commits."""
    where = git.run("symbolic-ref", "--quiet", "--short", "HEAD", cwd=worktree, check=False)
    if where == branch:
        return None
    head = git.run("rev-parse", "HEAD", cwd=worktree)
    tip = git.run("rev-parse", f"refs/heads/{branch}", cwd=worktree)
    place = f"branch {where}" if where else "a detached HEAD"
    if not git.is_ancestor(worktree, tip, head):
        return (f"its commits are on {place} ({head[:8]}), which does not contain {branch} "
                f"({tip[:8]}); put the work on {branch} by hand")
    # A fast-forward of the task branch: nothing on it is lost, and leftovers come along.
    git.run("checkout", "--quiet", "-B", branch, head, cwd=worktree)
    return None


def run_verify(command: str, worktree: Path, timeout_minutes: float,
               what: str = "verify") -> Result | None:
    """The user's verify command (or the merge gate's checks: `what`) in the worktree; a
    failing Result, or None when it passed.

    It runs in its own process group, killed whole when it ends or times out, and writes to a
    file rather than a pipe: a background child it leaves behind can neither keep the heartbeat
    waiting for end-of-file nor outlive the check."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(["sh", "-c", command], cwd=worktree, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_minutes * 60)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _kill_group(proc.pid)
            proc.wait()
        out.seek(max(0, out.seek(0, os.SEEK_END) - 64 * 1024))
        text = out.read().decode(errors="replace")
    if code is None:
        return Result(False, f"{what} `{command}` ran over {timeout_minutes:g} min")
    if code != 0:
        output = "\n".join(clean(text).splitlines()[-40:])
        return Result(False, f"{what} `{command}` exited {code}", output)
    return None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
