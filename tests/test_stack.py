"""gate: complete stacks branches: a task starts from the unmerged work it builds on, so the
pull requests merge in plan order without conflicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import DONE, manifest, wait_for

GIT = ["git", "-c", "user.name=reviewer", "-c", "user.email=reviewer@example.invalid"]
DEMO = {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"]}

TWELVE = [
    [{"id": "a1", "title": "a1", "files": ["shared.txt"]},
     {"id": "a2", "title": "a2", "files": ["a2.txt"]},
     {"id": "a3", "title": "a3", "files": ["a3.txt"]},
     {"id": "a4", "title": "a4", "files": ["a4.txt"], "dependsOn": ["a3"]}],
    [{"id": "b1", "title": "b1", "files": ["shared.txt"]},
     {"id": "b2", "title": "b2", "files": ["b2.txt"], "dependsOn": ["a2"]},
     {"id": "b3", "title": "b3", "files": ["b3.txt"]},
     {"id": "b4", "title": "b4", "files": ["b4.txt", "a4.txt"]}],
    [{"id": "c1", "title": "c1", "files": ["shared.txt"]},
     {"id": "c2", "title": "c2", "files": ["c2.txt"]},
     {"id": "c3", "title": "c3", "files": ["c3.txt"], "dependsOn": ["c2", "b3"]},
     {"id": "c4", "title": "c4", "files": ["docs"]}],
]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_twelve_stacked_tasks_are_pushed_then_merged_in_plan_order_without_conflict(
        control, remote, tmp_path):
    control.write(manifest(TWELVE, repo=str(remote), agent="d", agents={"d": DEMO},
                           max_parallel=4, retry_backoff_seconds=0))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and all(
        s["status"] == "pr_open" for s in control.peek().values()), timeout=120,
        what="every task to be pushed", interval=0.3)
    status = control.status()
    clone = control.workdir / "repo"
    # the same-file chain a1 -> b1 -> c1 stacks across phases
    for parent, child in (("a1", "b1"), ("b1", "c1")):
        git(clone, "git", "merge-base", "--is-ancestor", status[parent]["branch"], status[child]["branch"])
    agent_commits = set(git(clone, "git", "rev-list", *[s["branch"] for s in status.values()],
                            "--not", "origin/main").split())

    reviewer = tmp_path / "reviewer"
    subprocess.run(["git", "clone", "-q", str(remote), str(reviewer)], check=True)
    for wave in control.project().plan.waves():
        for task_id in wave:
            git(reviewer, "git", "fetch", "-q", "origin")
            merged = subprocess.run(GIT + ["merge", "--no-ff", "-m", f"merge {task_id}",
                                           f"origin/{status[task_id]['branch']}"],
                                    cwd=reviewer, capture_output=True, text=True)
            assert merged.returncode == 0, f"merging {task_id} conflicted: {merged.stdout}"
            git(reviewer, "git", "push", "-q", "origin", "main")
    wait_for(lambda: control.doit("heartbeat") and all(
        s["status"] == "merged" for s in control.peek().values()), what="every task merged", interval=0.3)

    on_main = set(git(remote, "git", "rev-list", "main").split())
    assert agent_commits <= on_main, "no agent commit may be missing from the remote"
    subjects = git(remote, "git", "log", "--format=%s", "main").splitlines()
    for phase in TWELVE:
        for task in phase:
            assert f"{task['id']}: {task['title']}" in subjects, f"{task['id']}'s change is not on main"
    shared = git(remote, "git", "show", "main:shared.txt").splitlines()
    assert shared == ["a1: a1", "b1: b1", "c1: c1"]


def test_several_predecessors_are_merged_into_the_new_branch(control, remote):
    control.write(manifest([[{"id": "x", "title": "x", "files": ["x.txt"]},
                             {"id": "y", "title": "y", "files": ["y.txt"]},
                             {"id": "z", "title": "z", "files": ["z.txt"], "dependsOn": ["x", "y"]}]],
                           repo=str(remote), agent="d", agents={"d": DEMO}))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and control.peek()["z"]["status"] in DONE,
             what="z to finish", interval=0.3)
    worktree = control.workdir / "worktrees" / "z"
    assert (worktree / "x.txt").exists() and (worktree / "y.txt").exists()


def test_conflicting_predecessors_are_an_error_naming_the_files(control, remote):
    control.write(manifest([[{"id": "x", "title": "x", "files": ["same.txt"]},
                             {"id": "y", "title": "y", "files": ["same.txt"]},
                             {"id": "z", "title": "z", "files": ["z.txt"], "dependsOn": ["x", "y"]}]],
                           repo=str(remote), agent="d", agents={"d": DEMO}, sameFile="allow"))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and control.peek()["z"]["status"] == "error",
             what="z to fail its merge", interval=0.3)
    reason = control.status()["z"]["reason"]
    assert "merging the work it builds on conflicts" in reason and "same.txt" in reason
    assert not (control.workdir / "worktrees" / "z").exists()
