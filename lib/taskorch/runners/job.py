"""What a remote job runs on a worker (issue 11): one attempt of one task, with nothing of taskorch
installed there. Every engine (Ray, Slurm, Batch) ships the same job (ship.py): a zip of this
module and the few stdlib-only modules it needs, fetched from the project's own remote.

The job clones the repository, checks out the attempt's start point, runs the agent with the
prompt (argv form, never a shell), commits what the agent left under the same rules as a local
run (leftovers.py: no secrets, no core dumps, nothing outside the task's files), and pushes the
result to the attempt's own ref, never forced: an orphaned earlier attempt may still push later,
and must not overwrite a newer one. Its last line is the result, and it exits with the agent's
status, so the engine's exit code is the agent's.

    python3 taskorch-job.pyz SPEC.json JOB     (SPEC: see `run`; JOB: the job ref's commit)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from taskorch import git, leftovers

RESULT = "TASKORCH-RESULT "  # the prefix of the job's last line, read back by the control side
START = "TASKORCH-START "  # its first line: where this attempt's part of an appended log begins


def result_ref(attempt_ref: str, job: str) -> str:
    """Where a job pushes its work: under its attempt's ref, named by the job's own commit. A
    project started over (a new work directory, a state store reset) numbers its attempts from
    1 again, while the remote keeps what the jobs of its earlier life pushed: its attempt 1
    must neither be refused that ref nor bring home what it holds."""
    return f"{attempt_ref}-{job[:12]}"


def run(spec: dict, workdir: Path, job: str) -> dict:
    """Run one attempt. `spec`: repo, start (a ref on the remote to start from), branch, ref
    (the attempt's; the result goes to result_ref), task_id, files, argv (with {prompt} and
    {prompt_file}), stdin, env, prompt. Returns the result: code, head, pushed, leftovers,
    error."""
    clone = workdir / "repo"
    git.run("clone", "--quiet", "--no-checkout", spec["repo"], str(clone), cwd=workdir,
            timeout=600)
    git.run("fetch", "--quiet", "origin", spec["start"], cwd=clone, timeout=600)
    git.run("checkout", "--quiet", "-B", spec["branch"], "FETCH_HEAD", cwd=clone)
    code = agent(spec, clone, workdir / "prompt.md")
    left = leftovers.commit(clone, spec["task_id"], tuple(spec.get("files", ())))
    head = git.run("rev-parse", "HEAD", cwd=clone)
    pushed, error = True, None
    try:  # never forced: a newer attempt's result is never overwritten
        git.run("push", "--quiet", "origin", f"HEAD:{result_ref(spec['ref'], job)}", cwd=clone,
                timeout=600)
    except git.GitError as exc:
        pushed, error = False, str(exc)
    return {"code": code, "head": head, "pushed": pushed, "leftovers": left.note(),
            "error": error}


def agent(spec: dict, cwd: Path, prompt_file: Path) -> int:
    """The agent's exit status; 127 when its program is missing, as a shell would say."""
    prompt_file.write_text(spec["prompt"], encoding="utf-8")
    argv = [a.replace("{prompt_file}", str(prompt_file)).replace("{prompt}", spec["prompt"])
            for a in spec["argv"]]
    env = {**os.environ, **spec.get("env", {}), "TASKORCH_PROMPT_FILE": str(prompt_file)}
    try:
        with open(prompt_file, "rb") if spec.get("stdin") else open(os.devnull, "rb") as stdin:
            return subprocess.call(argv, cwd=cwd, env=env, stdin=stdin)
    except FileNotFoundError:
        print(f"taskorch job: agent program {argv[0]!r} not found on this worker",
              file=sys.stderr)
        return 127


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec, job = json.loads(Path(args[0]).read_text(encoding="utf-8")), args[1]
    print(START + json.dumps({"task": spec["task_id"], "ref": result_ref(spec["ref"], job)}),
          flush=True)
    with tempfile.TemporaryDirectory(prefix="taskorch-job-") as tmp:
        try:
            result = run(spec, Path(tmp), job)
        except git.GitError as exc:  # no clone, no start point: nothing ran
            result = {"code": 128, "head": None, "pushed": False, "leftovers": "",
                      "error": str(exc)}
    print(RESULT + json.dumps(result), flush=True)
    return result["code"] if 0 <= result["code"] < 256 else 1


if __name__ == "__main__":
    sys.exit(main())
