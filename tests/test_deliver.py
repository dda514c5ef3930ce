"""Delivery through the git forge: push, merged (by merge or squash), closed, push failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import manifest, wait_for
from test_heartbeat import journal

GIT = ["git", "-c", "user.name=reviewer", "-c", "user.email=reviewer@example.invalid"]


def person(remote: Path, tmp_path: Path) -> Path:
    """A reviewer's own clone of the remote."""
    clone = tmp_path / "reviewer"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
    return clone


def run(cwd: Path, *args: str) -> str:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=True).stdout


def delivered(control, remote) -> dict:  # type: ignore[no-untyped-def]
    control.write(manifest([[{"id": "d", "issue": 3, "title": "Deliver me", "files": ["d.txt"]}]],
                           repo=str(remote), retry_backoff_seconds=0))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and control.peek()["d"]["status"] == "pr_open",
             what="the branch to be pushed", interval=0.3)
    return control.status()["d"]


def test_a_verified_branch_is_pushed_and_open(control, remote):
    status = delivered(control, remote)
    assert status["reason"] == "delivered: origin/fix/issue-3-deliver-me"
    remote_head = run(remote, "git", "rev-parse", "fix/issue-3-deliver-me").strip()
    local_head = run(control.workdir / "repo", "git", "rev-parse", "fix/issue-3-deliver-me").strip()
    assert remote_head == local_head


def test_a_merge_by_a_person_is_noticed(control, remote, tmp_path):
    delivered(control, remote)
    clone = person(remote, tmp_path)
    run(clone, *GIT, "merge", "--no-ff", "-m", "merge", "origin/fix/issue-3-deliver-me")
    run(clone, "git", "push", "-q", "origin", "main")
    control.doit("heartbeat")
    status = control.status()["d"]
    assert (status["status"], status["reason"]) == ("merged", "merged into main")


def test_a_squash_merge_is_noticed_by_patch_id(control, remote, tmp_path):
    delivered(control, remote)
    clone = person(remote, tmp_path)
    run(clone, *GIT, "merge", "--squash", "origin/fix/issue-3-deliver-me")
    run(clone, *GIT, "commit", "-qm", "Deliver me (#3)")
    run(clone, "git", "push", "-q", "origin", "main")
    control.doit("heartbeat")
    assert control.status()["d"]["status"] == "merged"


def test_a_branch_deleted_without_a_merge_is_an_error_that_does_not_retry(control, remote):
    delivered(control, remote)
    run(remote, "git", "branch", "-D", "fix/issue-3-deliver-me")
    control.doit("heartbeat")
    status = control.status()["d"]
    assert status["status"] == "error" and "closed without being merged" in status["reason"]
    control.doit("heartbeat")
    assert control.status()["d"]["attempts"] == 1


def test_a_rejected_push_keeps_the_task_and_succeeds_later(control, remote):
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'remote: pushes are closed today' >&2\nexit 1\n")
    hook.chmod(0o755)
    control.write(manifest([[{"id": "d", "title": "Deliver me", "files": ["d.txt"]}]],
                           repo=str(remote), retry_backoff_seconds=0))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and "push of" in control.peek()["d"]["reason"],
             what="the failed push", interval=0.3)
    status = control.status()["d"]
    assert status["status"] == "complete"
    assert "verified, but push of task/d-deliver-me failed" in status["reason"]
    hook.unlink()
    control.doit("heartbeat")
    assert control.status()["d"]["status"] == "pr_open"
    commits = run(control.workdir / "repo", "git", "rev-list", "task/d-deliver-me", "--not",
                  "main").split()
    assert commits and run(remote, "git", "rev-parse", "task/d-deliver-me").strip() == commits[0]


def test_merge_auto_that_conflicts_waits_for_a_person_under_conflict_notify(control, remote,
                                                                          tmp_path):
    control.write(manifest([[{"id": "d", "title": "Deliver me", "files": ["d.txt"]}]],
                           repo=str(remote), merge="auto", hook=False,
                           reactions={"conflict": "notify"}))
    clone = person(remote, tmp_path)
    (clone / "d.txt").write_text("a person's version\n")
    run(clone, *GIT, "add", "d.txt")
    run(clone, *GIT, "commit", "-qm", "conflicting change")
    control.doit("launch")
    wait_for(lambda: (control.workdir / "runs" / "d" / "attempt-1.exit").exists(), what="the agent")
    run(clone, "git", "push", "-q", "origin", "main")
    control.doit("heartbeat")
    status = control.status()["d"]
    assert status["status"] == "pr_open"
    assert "no longer merges cleanly into main: conflicts in d.txt" in status["reason"]
    assert "a person decides" in status["reason"]
    control.doit("heartbeat")  # seen again: nothing new is journaled
    reasons = [r for _, r in journal(control, "d") if "conflicts in d.txt" in r]
    assert len(reasons) == 1, reasons


def test_push_early_sends_a_running_tasks_commits_before_it_finishes(control, remote, tmp_path):
    script = tmp_path / "commit_then_hang.py"
    script.write_text(
        "import os, subprocess, time\n"
        "open('early.txt', 'w').write('progress\\n')\n"
        "g = ['git', '-c', 'user.name=a', '-c', 'user.email=a@a.invalid']\n"
        "subprocess.run(g + ['add', '-A'], check=True)\n"
        "subprocess.run(g + ['commit', '-qm', 'work in progress'], check=True)\n"
        "print('committed', flush=True)\n"
        "time.sleep(600)\n")
    control.write(manifest([[{"id": "e", "title": "Early", "files": ["early.txt"]}]],
                           repo=str(remote), push="early", agent="c",
                           agents={"c": {"command": [sys.executable, str(script)]}}))
    control.doit("launch")
    log = control.workdir / "logs" / "e.log"
    wait_for(lambda: log.exists() and "committed" in log.read_text(), what="the commit")
    out = control.doit("heartbeat").stdout
    assert "e: pushed its work in progress" in out
    assert control.status()["e"]["status"] == "running"
    local = run(control.workdir / "repo", "git", "rev-parse", "task/e-early").strip()
    assert run(remote, "git", "rev-parse", "task/e-early").strip() == local
    assert "pushed" not in control.doit("heartbeat").stdout  # nothing new: no second push
