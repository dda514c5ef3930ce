"""Where the code comes from: `owner/name` on GitHub, any git URL, a local path, or the demo."""

from __future__ import annotations

import re
from pathlib import Path

from taskorch import demo, git
from taskorch.errors import TaskorchError

GITHUB = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
DEMO = "demo"


class RepoError(TaskorchError):
    pass


def remote_url(repo: str, root: Path, workdir: Path) -> str:
    """The URL to clone from; the clone's `origin` is where branches go."""
    if repo.startswith("-"):
        raise RepoError(f"repo: {repo!r} starts with '-'; give owner/name, a git URL or a path")
    if repo == DEMO:
        return str(demo.ensure_remote(workdir / "demo"))
    if "://" in repo or re.match(r"^[\w.-]+@[\w.-]+:", repo):
        return repo
    local = (root / Path(repo).expanduser())
    if repo.startswith((".", "/", "~")) or local.exists():
        if not local.exists():
            raise RepoError(f"repo: local path {repo} does not exist; fix 'repo' in the manifest")
        return str(local.resolve())
    if GITHUB.match(repo):
        return f"https://github.com/{repo}.git"
    raise RepoError(f"repo: {repo!r} is not owner/name, a git URL or an existing path")


def problem(repo: str, root: Path) -> str | None:
    """What is wrong with `repo:` that can be told without the network: a local path that is
    missing or is not a git repository. URLs and owner/name are checked when cloned."""
    if repo == DEMO or "://" in repo or re.match(r"^[\w.-]+@[\w.-]+:", repo):
        return None
    local = root / Path(repo).expanduser()
    if not (repo.startswith((".", "/", "~")) or local.exists()):
        return None if GITHUB.match(repo) else f"{repo!r} is not owner/name, a git URL or a path"
    if not local.is_dir():
        return f"local path {repo} does not exist; give owner/name, a git URL or a path"
    if not ((local / ".git").exists() or (local / "HEAD").is_file()):
        return f"{repo} is not a git repository; run `git init` there or point repo at one"
    return None


def missing_base(clone: Path, base: str) -> str:
    """Why `origin/<base>` is not in the clone. A repository nobody has pushed to has no branch
    at all, and naming another base would not help: it needs a first commit."""
    branches = git.run("for-each-ref", "--format=%(refname)", "refs/remotes/origin/", cwd=clone)
    if not [ref for ref in branches.split() if ref != "refs/remotes/origin/HEAD"]:
        return (f"the repository has no commits yet; push a first commit to its '{base}' branch "
                f"(e.g. git commit --allow-empty -m start && git push origin HEAD:{base}), then "
                "run the command again")
    return f"base branch '{base}' is not on origin; set 'base' in the manifest"
