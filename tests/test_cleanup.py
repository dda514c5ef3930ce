"""doit cleanup: merged tasks' leftovers go; work that exists nowhere else stays unless --force."""

from __future__ import annotations

import subprocess

from conftest import manifest, wait_for

GIT = ["git", "-c", "user.name=a", "-c", "user.email=a@a.invalid"]


def merged_pair(control, **extra) -> None:  # type: ignore[no-untyped-def]
    control.write(manifest([[{"id": "m", "title": "m", "files": ["m.txt"]},
                             {"id": "n", "title": "n", "files": ["n.txt"]}]],
                           merge="auto", retry_backoff_seconds=0, **extra))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and all(
        s["status"] == "merged" for s in control.peek().values()), what="both merged", interval=0.3)


def branches(control) -> str:  # type: ignore[no-untyped-def]
    return subprocess.run(["git", "branch"], cwd=control.workdir / "repo", capture_output=True,
                          text=True, check=True).stdout


def test_cleanup_removes_merged_worktrees_branches_and_sessions(control):
    merged_pair(control)
    out = control.doit("cleanup").stdout
    assert "m: removed its worktree, branch task/m-m and session" in out
    assert not (control.workdir / "worktrees" / "m").exists()
    assert "task/m-m" not in branches(control)
    assert "cleanup: no merged task has anything left" in control.doit("cleanup").stdout


def test_cleanup_refuses_uncommitted_or_unpushed_work_without_force(control):
    merged_pair(control)
    (control.workdir / "worktrees" / "m" / "scratch.txt").write_text("not committed\n")
    n = control.workdir / "worktrees" / "n"
    (n / "n.txt").write_text("more\n")
    subprocess.run(GIT + ["commit", "-qam", "after the merge"], cwd=n, check=True)
    out = control.doit("cleanup").stdout
    assert f"m: kept: {control.workdir / 'worktrees' / 'm'} has uncommitted changes" in out
    assert "n: kept: task/n-n has 1 commit(s) that are not on the remote" in out
    assert (control.workdir / "worktrees" / "m").exists() and "task/n-n" in branches(control)
    forced = control.doit("cleanup", "--force").stdout
    assert "m: removed" in forced and "n: removed" in forced


def test_cleanup_all_asks_first_then_tears_everything_down(control):
    merged_pair(control)
    refused = control.doit("cleanup", "--all", check=False)
    assert refused.returncode != 0 and "add --yes to confirm" in refused.stderr
    assert control.workdir.exists()
    out = control.doit("cleanup", "--all", "--yes").stdout
    assert "removed" in out and not (control.workdir / "repo").exists()
    assert control.sessions() == {}


def test_cleanup_all_keeps_everything_when_work_would_be_lost(control):
    merged_pair(control)
    (control.workdir / "worktrees" / "m" / "scratch.txt").write_text("not committed\n")
    out = control.doit("cleanup", "--all", "--yes").stdout
    assert "nothing was removed; --force removes it anyway" in out
    assert (control.workdir / "repo").exists()


def test_cleanup_on_merge_lets_the_heartbeat_clean_up(control):
    merged_pair(control, cleanup="on-merge")
    assert not (control.workdir / "worktrees" / "m").exists()
    assert "task/m-m" not in branches(control)
