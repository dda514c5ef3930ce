"""git in argv form, through subprocess with a timeout on every call: the clone, worktrees,
branches and a few queries. Output is read from pipes (no tty, so no pager codes or cut output,
as DESIGN.md measured for sh's default), with `--no-pager` and `color.ui=never` besides.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path


from taskorch.errors import TaskorchError

class GitError(TaskorchError):
    """A git command failed; the message is git's own first line of complaint."""


# Config and hooks an agent can plant in its worktree or in the clone's shared .git/config run
# inside every git call that reads them: `git status` starts core.fsmonitor, `commit` and `push`
# run hooks. taskorch's own calls (the push among them, with the user's credentials) turn them
# off; its `git diff` calls pass --no-ext-diff against diff.external.
HARDENED = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "color.ui=never")
# Every call has a timeout; those that talk to a remote get a shorter one, since a remote that
# accepts the connection and never answers would otherwise hold the heartbeat's lock forever.
# The author of commits taskorch makes itself (leftovers, merges).
IDENTITY = ("-c", "user.name=taskorch", "-c", "user.email=taskorch@localhost")
NETWORK_VERBS = frozenset({"fetch", "push", "clone", "ls-remote", "pull"})
LOCAL_TIMEOUT = 600.0  # seconds


def network_timeout() -> float:
    """Seconds a fetch or push may take (TASKORCH_REMOTE_TIMEOUT, default 120)."""
    try:
        return float(os.environ.get("TASKORCH_REMOTE_TIMEOUT", "120"))
    except ValueError:
        return 120.0


def argv(*args: str) -> list[str]:
    """A full git command line with taskorch's hardening, for callers that need a raw process."""
    return ["git", "--no-pager", *HARDENED, *args]


def run(*args: str, cwd: Path | str | None = None, timeout: float | None = None,
        check: bool = True, strip: bool = True, input: str | bytes | None = None,
        env: dict[str, str] | None = None) -> str:
    """git's output, stripped (strip=False where leading spaces mean something, as in
    `status --porcelain`). A failure raises GitError, or with check=False gives ''. `input`
    goes to its standard input; `env` is added to the environment.

    subprocess, not sh: sh's `_timeout` polls, and added 100 ms to every call (measured: 8 ms
    a `rev-parse` without it, 109 ms with it), which took a heartbeat from 0.5 to 3 s."""
    if timeout is None:
        timeout = network_timeout() if args and args[0] in NETWORK_VERBS else LOCAL_TIMEOUT
    try:
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(argv(*args), cwd=str(cwd) if cwd else None, capture_output=True,
                              input=data, stdin=None if data is not None else subprocess.DEVNULL,
                              timeout=timeout,
                              env={**os.environ, **(env or {}), "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        if cwd and not Path(cwd).is_dir():  # subprocess says the same of a missing cwd
            raise GitError(f"git {' '.join(args[:2])}: {cwd} does not exist") from None
        raise GitError("git is not installed; install it (e.g. apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args[:2])}: no answer in {timeout:g} s; is the remote "
                       "reachable?") from None
    if proc.returncode != 0:
        if not check:
            return ""
        stderr = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = next((line for line in stderr if line.startswith(("fatal", "error"))),
                      stderr[-1] if stderr else f"exit {proc.returncode}")
        raise GitError(f"git {' '.join(args[:2])}: {detail}") from None
    out = proc.stdout.decode(errors="replace")
    return out.strip() if strip else out


def slug(text: str, limit: int = 40) -> str:
    """Lower-case words joined by '-', safe in a branch name: 'Fix $(rm) X!' -> 'fix-rm-x'."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    return out or "task"


def branch_name(task_id: str, title: str, issue: int | None) -> str:
    """`fix/issue-<n>-<slug>`, or `task/<id>-<slug>` without an issue number."""
    if issue:
        return f"fix/issue-{issue}-{slug(title)}"
    return f"task/{task_id}-{slug(title)}"


def check_branch(name: str) -> str:
    """Let git itself confirm the name is a valid branch name."""
    run("check-ref-format", "--branch", name)
    return name


# A clone of a big repository takes minutes, so it gets git's own progress on a terminal and a
# long timeout; a transfer slower than 1 KB/s for a minute is given up instead (a silent remote).
CLONE_TIMEOUT = 3600.0
SLOW_TRANSFER = ("-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60")


def ensure_clone(url: str, dest: Path) -> None:
    """Clone once. A half-finished clone from a killed run is removed and done again."""
    if (dest / ".git").exists():
        return
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shown = sys.stderr.isatty()
    print(f"taskorch: cloning {url} into {dest} (once)...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:  # "--" first: a URL is never taken for an option
        proc = subprocess.run(argv(*SLOW_TRANSFER, "clone", "--progress" if shown else "--quiet",
                                   "--", url, str(partial)),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=None if shown else subprocess.PIPE, timeout=CLONE_TIMEOUT,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except subprocess.TimeoutExpired:
        raise GitError(f"git clone: not done after {CLONE_TIMEOUT:g} s") from None
    if proc.returncode != 0:
        said = (proc.stderr or b"").decode(errors="replace").strip().splitlines()
        detail = next((line for line in said if line.startswith("fatal")), said[-1] if said else
                      f"exit {proc.returncode} (git's message is above)")
        raise GitError(f"git clone: {detail}")
    partial.rename(dest)
    print(f"taskorch: cloned in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


def has_ref(clone: Path, ref: str) -> bool:
    try:
        run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=clone)
        return True
    except GitError:
        return False


def ensure_worktree(clone: Path, path: Path, branch: str, start: str) -> bool:
    """Create the worktree on `branch` (from `start`) unless it is already there; True if a new
    branch was made.

    `--no-track` keeps parallel creations from racing on .git/config (measured). A branch left
    behind by a killed run is reused rather than created again.
    """
    if path.is_dir() and not (path / ".git").exists() and any(path.iterdir()):
        # Its .git file was deleted: relink it before `prune` forgets the worktree, so the work
        # in it is neither lost nor in the way of a new checkout.
        run("worktree", "repair", str(path), cwd=clone, check=False)
    if (path / ".git").exists():
        current = run("rev-parse", "--abbrev-ref", "HEAD", cwd=path)
        if current != branch:
            raise GitError(f"worktree {path} is on branch {current}, expected {branch}")
        return False
    run("worktree", "prune", cwd=clone)
    if path.exists() and not any(path.iterdir()):
        path.rmdir()
    if has_ref(clone, f"refs/heads/{branch}"):
        run("worktree", "add", "--quiet", str(path), branch, cwd=clone)
        return False
    run("worktree", "add", "--quiet", "--no-track", "-b", branch, str(path), start, cwd=clone)
    return True


def branch_head(clone: Path, branch: str, remote: str | None = None) -> str | None:
    """The commit a branch points at, read from the ref files: no process, so a heartbeat can
    ask for every running task each tick (a new commit counts as progress). With `remote`, the
    last known head of that remote's branch."""
    return ref_head(clone, f"refs/remotes/{remote}/{branch}" if remote else f"refs/heads/{branch}")


def ref_head(clone: Path, ref: str) -> str | None:
    """The commit `ref` (a full name: refs/...) points at, from the ref files; None if absent."""
    name = ref.removeprefix("refs/")
    loose = clone / ".git" / "refs" / name
    try:
        return loose.read_text().strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass
    try:
        packed = (clone / ".git" / "packed-refs").read_text()
    except FileNotFoundError:
        return None
    suffix = f" refs/{name}"
    return next((line.split(" ", 1)[0] for line in packed.splitlines() if line.endswith(suffix)),
                None)


def is_dirty(worktree: Path) -> bool:
    return bool(run("status", "--porcelain", "--untracked-files=all", cwd=worktree))


def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    try:
        run("merge-base", "--is-ancestor", commit, of, cwd=repo)
        return True
    except GitError:
        return False


def patch_ids(repo: Path, *args: str) -> set[str]:
    """`git <args> | git patch-id --stable`, as a set of patch ids."""
    diff = subprocess.run(argv(*args), cwd=repo, capture_output=True, timeout=LOCAL_TIMEOUT)
    ids = subprocess.run(argv("patch-id", "--stable"), cwd=repo, input=diff.stdout,
                         capture_output=True, timeout=LOCAL_TIMEOUT)
    return {line.split()[0] for line in ids.stdout.decode().splitlines() if line.strip()}


def squashed_into(repo: Path, base_commit: str, head: str, target: str) -> bool:
    """Is the whole diff base_commit..head on `target` as one commit (a squash merge)? Found by
    patch-id: a person squashing may rewrite the message, so a trailer would not survive."""
    mine = patch_ids(repo, "diff", "--no-ext-diff", base_commit, head)
    if not mine:
        return False
    return bool(mine & patch_ids(repo, "log", "-p", "--no-merges", target, f"^{base_commit}"))


def merged_into(repo: Path, head: str, base_commit: str | None, target: str) -> bool:
    """Is `head`'s work on `target`: an ancestor of it, or squashed into it from base_commit?"""
    return is_ancestor(repo, head, target) or bool(
        base_commit and squashed_into(repo, base_commit, head, target))


def conflicted(repo: Path) -> list[str]:
    """The files a stopped merge left in conflict."""
    return run("diff", "--name-only", "--diff-filter=U", cwd=repo, check=False).split()


def merge_commit(repo: Path, base: str, head: str, message: str) -> tuple[str | None, list[str]]:
    """The merge of `head` into `base` as a commit, made without touching any checkout (`git
    merge-tree`), and (None, the conflicting files) when they do not merge cleanly. The same
    inputs give the same commit (its dates are the later parent's), so a result kept for it is
    found again on the next tick."""
    proc = subprocess.run(argv("merge-tree", "--write-tree", "--name-only", "--no-messages",
                               "-z", base, head), cwd=repo, capture_output=True,
                          timeout=LOCAL_TIMEOUT, stdin=subprocess.DEVNULL)
    fields = proc.stdout.decode(errors="replace").split("\0")
    if proc.returncode == 1:
        return None, sorted({f for f in fields[1:] if f})
    if proc.returncode != 0:
        raise GitError(f"git merge-tree: {proc.stderr.decode(errors='replace').strip()}")
    date = max(int(t) for t in run("show", "-s", "--format=%ct", base, head, cwd=repo).split())
    stamp = f"@{date} +0000"
    sha = run(*IDENTITY, "commit-tree", fields[0], "-p", base, "-p", head, "-m", message,
              cwd=repo, env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    return sha, []
