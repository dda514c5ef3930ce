"""How a remote job reaches a worker that has nothing of taskorch (issue 11): through the
project's own git remote, which every worker must reach anyway.

For each attempt the control side commits a small tree, `job.pyz` (runners/job.py and the
stdlib-only modules it imports, as a zip Python runs directly) and `spec.json` (the attempt:
prompt, argv, start point, result ref), and pushes it to `refs/taskorch/<task>/a<N>-job`. The
engine is then given one short command, the same for Ray, Slurm and Batch: fetch that ref, run
the zip. Nothing secret goes in: the agent's credentials are the worker's own.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from taskorch import git
from taskorch.runners import job as job_module

PACKAGE = Path(__file__).resolve().parent.parent  # lib/taskorch
# What job.py imports, all stdlib-only: a worker needs python3 and git, no packages.
MODULES = ("__init__.py", "errors.py", "git.py", "overlap.py", "leftovers.py",
           "runners/__init__.py", "runners/base.py", "runners/job.py")
MAIN = "from taskorch.runners.job import main\nraise SystemExit(main())\n"
EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed times: the same code gives the same zip, the same blob

# Run by `python3 -c` on the worker, with argv: REPO JOB JOB_REF (JOB: the job ref's commit when
# it was submitted). Kept short and plain: it is the one piece of taskorch an engine's job record
# shows. A job whose ref a later launch of the same attempt replaced runs nothing.
BOOT = """\
import os, subprocess, sys, tempfile
repo, job, ref = sys.argv[1:4]
d = tempfile.mkdtemp(prefix="taskorch-boot-")
def git(*a):
    return subprocess.run(["git", "-C", d, *a], check=True, stdout=subprocess.PIPE).stdout
git("init", "-q")
git("fetch", "-q", "--depth", "1", repo, ref)
if git("rev-parse", "FETCH_HEAD").decode().strip() != job:
    sys.exit("taskorch job: " + ref + " is no longer job " + job + "; a later launch replaced it")
for name in ("job.pyz", "spec.json"):
    open(os.path.join(d, name), "wb").write(git("show", "FETCH_HEAD:" + name))
spec = os.path.join(d, "spec.json")
sys.exit(subprocess.call([sys.executable, os.path.join(d, "job.pyz"), spec, job]))
"""


def job_zip() -> bytes:
    """job.py and what it imports, as a zip `python3 job.pyz` runs; byte for byte the same for
    the same code."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as pyz:
        for name, data in [("__main__.py", MAIN.encode()),
                           *((f"taskorch/{m}", (PACKAGE / m).read_bytes()) for m in MODULES)]:
            pyz.writestr(zipfile.ZipInfo(name, EPOCH), data)
    return out.getvalue()


def job_ref(task_id: str, attempt: int) -> str:
    return f"refs/taskorch/{task_id}/a{attempt}-job"


def attempt_ref(task_id: str, attempt: int) -> str:
    """Attempt N's name on the remote: its jobs push their work under it (job.result_ref)."""
    return f"refs/taskorch/{task_id}/a{attempt}"


def result_ref(task_id: str, attempt: int, job: str) -> str:
    """Where the job `job` (its job ref's commit) of attempt N pushes its work."""
    return job_module.result_ref(attempt_ref(task_id, attempt), job)


def start_ref(task_id: str, attempt: int) -> str:
    """Where the attempt starts from: the control side pushes its start commit here, since a
    stacked start (another task's unmerged branch) may exist only in the local clone."""
    return f"refs/taskorch/{task_id}/a{attempt}-start"


def publish(clone: Path, task_id: str, attempt: int, spec: dict) -> str:
    """Commit job.pyz and spec.json as a tree of their own and push it, with the start commit,
    to the remote (`job_ref`); returns that commit, the job. Idempotent: the same attempt
    pushes the same objects."""
    blobs = {"job.pyz": _blob(clone, job_zip()),
             "spec.json": _blob(clone, json.dumps(spec, indent=2).encode())}
    tree = git.run("mktree", cwd=clone,
                   input="".join(f"100644 blob {sha}\t{name}\n" for name, sha in blobs.items()))
    commit = git.run(*git.IDENTITY, "commit-tree", tree, "-m",
                     f"taskorch job: {task_id} attempt {attempt}", cwd=clone,
                     env={"GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
                          "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z"})
    ref = job_ref(task_id, attempt)
    git.run("push", "--quiet", "--force", "origin", f"{commit}:{ref}",
            f"{spec['start_commit']}:{spec['start']}", cwd=clone, timeout=120)
    return commit


def _blob(clone: Path, data: bytes) -> str:
    return git.run("hash-object", "-w", "--stdin", cwd=clone, input=data)


def command(repo: str, job: str, ref: str) -> list[str]:
    """The argv every engine runs on the worker: job `job`, published at `ref` (job_ref). The
    job's commit is in it, so an engine that keys jobs by their command (Ray's submission id)
    never takes a new job for an old one."""
    return ["python3", "-c", BOOT, repo, job, ref]
