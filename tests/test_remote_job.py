"""The job every remote runner ships (runners/job.py, runners/ship.py, issue 11), run here as a
worker would run it: a plain `python3 -c BOOT REPO JOB REF` in a directory of its own, with only git
and python3, against a real bare remote. No engine is needed to test what runs inside one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskorch.runners import ship
from taskorch.runners.job import RESULT

AGENT = """\
import os, pathlib, subprocess, sys
prompt = pathlib.Path(sys.argv[1]).read_text()
pathlib.Path("a.txt").write_text("done: " + prompt)
subprocess.run(["git", "add", "a.txt"], check=True)
subprocess.run(["git", "commit", "-qm", "Do a"], check=True)
pathlib.Path("notes.txt").write_text("left uncommitted, inside the task\\n"
                                     + os.environ.get("RUN", ""))
pathlib.Path(".env").write_text("API_KEY=sk-secret\\n")
sys.exit(int(sys.argv[2]))
"""
WHO = {"GIT_AUTHOR_NAME": "agent", "GIT_AUTHOR_EMAIL": "agent@example.invalid",
       "GIT_COMMITTER_NAME": "agent", "GIT_COMMITTER_EMAIL": "agent@example.invalid"}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> dict:
    bare, clone = tmp_path / "remote.git", tmp_path / "clone"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("clone", "-q", str(bare), str(clone), cwd=tmp_path)
    (clone / "README").write_text("hi\n")
    git("add", "README", cwd=clone)
    git("-c", "user.name=u", "-c", "user.email=u@u", "commit", "-qm", "start", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    return {"bare": bare, "clone": clone, "agent": agent, "tmp": tmp_path}


def spec_for(project: dict, attempt: int, code: int = 0, argv: list[str] | None = None) -> dict:
    clone = project["clone"]
    return {"repo": str(project["bare"]), "task_id": "a", "branch": "task/a-do-a",
            "start": ship.start_ref("a", attempt), "start_commit": git("rev-parse", "HEAD",
                                                                       cwd=clone),
            "ref": ship.attempt_ref("a", attempt), "files": ["a.txt", "notes.txt"],
            "argv": argv or [sys.executable, str(project["agent"]), "{prompt_file}", str(code)],
            "stdin": False, "env": WHO, "prompt": "the task's prompt\n"}


def run_job(project: dict, attempt: int, spec: dict, run: str = "",
            job: str | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """Publish the attempt's job (unless `job`, one published before, is given) and run it as
    a worker would; the result line, with the job's commit added as "job"."""
    job = job or ship.publish(project["clone"], "a", attempt, spec)
    worker = project["tmp"] / f"worker-{attempt}"
    worker.mkdir(exist_ok=True)
    done = subprocess.run(ship.command(str(project["bare"]), job, ship.job_ref("a", attempt)),
                          cwd=worker, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "RUN": run})
    last = (done.stdout.strip().splitlines() or [""])[-1]
    result = json.loads(last[len(RESULT):]) if last.startswith(RESULT) else {}
    return done, {**result, "job": job}


def test_a_job_runs_the_agent_commits_its_leftovers_and_pushes_the_attempts_ref(project):
    done, result = run_job(project, 1, spec_for(project, 1))
    bare = project["bare"]
    assert done.returncode == 0 and result["pushed"] and result["code"] == 0
    assert git("rev-parse", ship.result_ref("a", 1, result["job"]), cwd=bare) == result["head"]
    files = git("ls-tree", "-r", "--name-only", result["head"], cwd=bare).split()
    assert sorted(files) == ["README", "a.txt", "notes.txt"]  # .env refused, never pushed
    assert git("show", f"{result['head']}:a.txt", cwd=bare) == "done: the task's prompt"
    assert ".env (looks like a secret)" in result["leftovers"]
    subjects = git("log", "--format=%s", result["head"], cwd=bare).splitlines()
    assert subjects[:2] == ["taskorch: commit what a's agent left uncommitted", "Do a"]
    assert "main" in git("branch", "--list", "main", cwd=bare)  # main itself untouched
    assert git("rev-parse", "main", cwd=bare) == spec_for(project, 1)["start_commit"]


def test_the_job_exits_with_the_agents_status(project):
    done, result = run_job(project, 1, spec_for(project, 1, code=3))
    assert (done.returncode, result["code"]) == (3, 3)
    assert result["pushed"]  # a failed attempt's work is kept too: the retry may build on it


def test_an_orphaned_earlier_run_never_overwrites_the_attempts_result(project):
    """The same job run twice (an engine that ran it again, an orphan that lived on): the
    later run's work is refused, and the first stays."""
    _, first = run_job(project, 1, spec_for(project, 1))
    _, late = run_job(project, 1, spec_for(project, 1), run="again")
    assert late["job"] == first["job"] and late["head"] != first["head"]
    assert not late["pushed"] and "failed to push" in late["error"]
    assert git("rev-parse", ship.result_ref("a", 1, first["job"]),
               cwd=project["bare"]) == first["head"]


def test_a_project_started_over_meets_no_earlier_lifes_refs(project):
    """A project started over numbers its attempts from 1 again, and the remote still has what
    its earlier life pushed: the new attempt 1 is a new job, which pushes to its own ref. The
    earlier life's job, submitted but not yet run, runs nothing once the attempt's job ref has
    moved on."""
    stale = ship.publish(project["clone"], "a", 1, spec_for(project, 1))
    _, old = run_job(project, 1, spec_for(project, 1))
    spec = spec_for(project, 1)
    spec["prompt"] = "the same task, asked again after a reset\n"
    _, new = run_job(project, 1, spec)
    assert new["job"] != old["job"] and new["pushed"], new
    bare = project["bare"]
    assert git("rev-parse", ship.result_ref("a", 1, new["job"]), cwd=bare) == new["head"]
    assert git("rev-parse", ship.result_ref("a", 1, old["job"]), cwd=bare) == old["head"]
    assert "asked again" in git("show", f"{new['head']}:a.txt", cwd=bare)
    done, result = run_job(project, 1, spec_for(project, 1), job=stale)  # its ref moved on
    assert done.returncode != 0 and "a later launch replaced it" in done.stderr
    assert "head" not in result  # nothing ran


def test_a_missing_agent_program_is_127_with_a_result(project):
    done, result = run_job(project, 1, spec_for(project, 1, argv=["no-such-agent-9d1", "x"]))
    assert (done.returncode, result["code"]) == (127, 127)
    assert "not found on this worker" in done.stderr


def test_the_job_zip_is_the_same_bytes_for_the_same_code():
    """So each attempt's job.pyz is one blob in the remote, not a new one every time."""
    assert ship.job_zip() == ship.job_zip()
