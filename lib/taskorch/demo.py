"""The throwaway demo repository: a bare remote with one seed commit, made under the work dir.

It lets the shipped example run end to end on a machine with no network and no LLM.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from taskorch import git

IDENTITY = ("-c", "user.name=taskorch demo", "-c", "user.email=demo@taskorch.invalid")
SEED = {
    "README.md": "# demo\n\nA throwaway repository made by taskorch's shipped example.\n",
    "src/__init__.py": "",
}


def ensure_remote(where: Path, base: str = "main") -> Path:
    """Create `where/remote.git` once, with the seed files committed on `base`."""
    remote = where / "remote.git"
    if remote.exists():
        return remote
    where.mkdir(parents=True, exist_ok=True)
    partial = where / "remote.git.partial"
    if partial.exists():
        shutil.rmtree(partial)
    git.run("init", "--quiet", "--bare", f"--initial-branch={base}", str(partial))
    with tempfile.TemporaryDirectory(dir=where) as seed:
        git.run("init", "--quiet", f"--initial-branch={base}", seed)
        for name, text in SEED.items():
            path = Path(seed) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git.run("add", "-A", cwd=seed)
        git.run(*IDENTITY, "commit", "--quiet", "-m", "seed the demo repository", cwd=seed)
        git.run("push", "--quiet", str(partial), f"HEAD:refs/heads/{base}", cwd=seed)
    partial.rename(remote)
    return remote
