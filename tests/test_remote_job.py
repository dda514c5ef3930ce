"""The job every remote runner ships (runners/job.py, runners/ship.py, issue 11), run here as a
worker would run it: a plain `python3 -c BOOT REPO REF` in a directory of its own, with only git
and python3, against a real bare remote. No engine is needed to test what runs inside one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taskorch.runners import ship
from taskorch.runners.job import RESULT

AGENT = """\
import pathlib, subprocess, sys
prompt = pathlib.Path(sys.argv[1]).read_text()
pathlib.Path("a.txt").write_text("done: " + prompt)
subprocess.run(["git", "add", "a.txt"], check=True)
subprocess.run(["git", "commit", "-qm", "Do a"], check=True)
pathlib.Path("notes.txt").write_text("left uncommitted, inside the task\\n")
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
            "ref": ship.result_ref("a", attempt), "files": ["a.txt", "notes.txt"],
            "argv": argv or [sys.executable, str(project["agent"]), "{prompt_file}", str(code)],
            "stdin": False, "env": WHO, "prompt": "the task's prompt\n"}


def run_job(project: dict, attempt: int, spec: dict) -> tuple[subprocess.CompletedProcess, dict]:
    ref = ship.publish(project["clone"], "a", attempt, spec)
    worker = project["tmp"] / f"worker-{attempt}"
    worker.mkdir(exist_ok=True)
    done = subprocess.run(ship.command(str(project["bare"]), ref), cwd=worker,
                          capture_output=True, text=True, timeout=120)
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(RESULT), done.stdout + done.stderr
    return done, json.loads(last[len(RESULT):])


def test_a_job_runs_the_agent_commits_its_leftovers_and_pushes_the_attempts_ref(project):
    done, result = run_job(project, 1, spec_for(project, 1))
    bare = project["bare"]
    assert done.returncode == 0 and result["pushed"] and result["code"] == 0
    assert git("rev-parse", ship.result_ref("a", 1), cwd=bare) == result["head"]
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
    _, first = run_job(project, 1, spec_for(project, 1))
    spec = spec_for(project, 1)
    spec["prompt"] = "another prompt\n"  # the same attempt, run again with other work
    _, late = run_job(project, 1, spec)
    assert not late["pushed"] and "failed to push" in late["error"]
    assert git("rev-parse", ship.result_ref("a", 1), cwd=project["bare"]) == first["head"]


def test_a_missing_agent_program_is_127_with_a_result(project):
    done, result = run_job(project, 1, spec_for(project, 1, argv=["no-such-agent-9d1", "x"]))
    assert (done.returncode, result["code"]) == (127, 127)
    assert "not found on this worker" in done.stderr


def test_the_job_zip_is_the_same_bytes_for_the_same_code():
    """So each attempt's job.pyz is one blob in the remote, not a new one every time."""
    assert ship.job_zip() == ship.job_zip()
