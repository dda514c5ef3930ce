"""The merge gate (issue 12) with the git forge: a real bare remote, doit through its command line
and scripted agents (agents/rework.py).

- A first commit that breaks `checks` never reaches main: the checks' failure goes back to the
  agent in a rework round, and the fix is what merges.
- Two tasks that pass alone but break together: one lands; the other is tested on a base that
  holds the first, and does not.
- A base that moved and conflicts: the agent is told the files, merges the base in, and merges.
- Rounds are capped by max_rounds, then a person decides.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import AGENTS, manifest, push_to_main, wait_for
from test_heartbeat import journal, story

GIT = ["git", "-c", "user.name=person", "-c", "user.email=person@example.invalid"]
# Fails while a.txt says BROKEN, printing a line of its own for the rework prompt to carry.
CHECK = (f"{sys.executable} -c \"import pathlib, sys; t = pathlib.Path('a.txt').read_text() "
         "if pathlib.Path('a.txt').exists() else ''; bad = 'BROKEN' in t; "
         "print('CHECK-7: a.txt says BROKEN' if bad else 'ok'); sys.exit(bad)\"")
# Fails when b.txt and c.txt are both there: each task passes alone, the two together do not.
TOGETHER = (f"{sys.executable} -c \"import os, sys; both = os.path.exists('b.txt') and "
            "os.path.exists('c.txt'); print('CHECK-7: b and c clash' if both else 'ok'); "
            "sys.exit(both)\"")


def rework_agent(mode: str) -> dict:
    return {"command": [sys.executable, str(AGENTS / "rework.py"), mode]}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def beat_until(control, done, timeout: float = 60, what: str = "the gate"):  # type: ignore[no-untyped-def]
    def step():  # type: ignore[no-untyped-def]
        control.doit("heartbeat")
        status = control.peek()
        return status if done(status) else None
    return wait_for(step, timeout=timeout, interval=0.2, what=what)


def main_states(remote: Path) -> list[str]:
    """Every commit main pointed at, oldest first: the gate pushes one merge at a time, so the
    first-parent chain is main's history."""
    return git(remote, "rev-list", "--first-parent", "--reverse", "main").split()


def tree_has(remote: Path, commit: str, path: str) -> str | None:
    out = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=remote, capture_output=True,
                         text=True)
    return out.stdout if out.returncode == 0 else None


def test_a_commit_that_breaks_the_checks_goes_back_and_only_the_fix_merges(control, remote):
    control.write(manifest([[{"id": "a", "title": "Add a", "files": ["a.txt"]}]],
                           repo=str(remote), merge="auto", checks=CHECK, agent="rework",
                           agents={"rework": rework_agent("broken")}, retry_backoff_seconds=0))
    control.doit("launch")
    status = beat_until(control, lambda s: s["a"]["status"] in ("merged", "stuck"),
                        what="a to be reworked and merged")
    a = status["a"]
    assert a["status"] == "merged" and a["attempts"] == 2, f"{a}\n" + story(control, "a")
    assert "checks `" in a["reason"] and "passed" in a["reason"], a["reason"]
    told = [r for _, r in journal(control, "a") if "back to its agent: rework round 1 of 3" in r]
    assert len(told) == 1 and "exited 1" in told[0], story(control, "a")
    prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert "CHECK-7: a.txt says BROKEN" in prompt and "rework round 1 of 3" in prompt
    # main never held the broken line: not in any state it was in
    assert all("BROKEN" not in (tree_has(remote, c, "a.txt") or "") for c in main_states(remote))
    assert tree_has(remote, "main", "a.txt") == "a: fixed\n"
    # what merged is the tested merge itself: main's head is the gate's merge commit
    kept = subprocess.run(["git", "rev-parse", "refs/taskorch/a/gate"], cwd=control.workdir /
                          "repo", capture_output=True, text=True).stdout.strip()
    assert git(remote, "rev-parse", "main").strip() == kept
    # a rework round is not a crash: the attempt budget is whole again
    row = control.peek()["a"]
    assert row["attempts"] == 2


def test_two_tasks_that_pass_alone_but_break_together_do_not_both_land(control, remote):
    control.write(manifest([[{"id": "b", "title": "Add b", "files": ["b.txt"]},
                             {"id": "c", "title": "Add c", "files": ["c.txt"]}]],
                           repo=str(remote), merge="auto", checks=TOGETHER,
                           reactions={"ci_failed": "notify"}))
    control.doit("launch")
    status = beat_until(control, lambda s: sorted(t["status"] for t in s.values())
                        == ["merged", "pr_open"] and any("a person decides" in t["reason"]
                                                         for t in s.values()),
                        what="one merged and the other held")
    held = next(t for t, row in status.items() if row["status"] == "pr_open")
    assert "checks `" in status[held]["reason"] and "exited 1" in status[held]["reason"]
    assert not any(tree_has(remote, c, "b.txt") and tree_has(remote, c, "c.txt")
                   for c in main_states(remote))
    for _ in range(2):  # judged again on later ticks: the same failure is not journaled again
        control.doit("heartbeat")
    failed = [r for _, r in journal(control, held) if "a person decides" in r]
    assert len(failed) == 1, story(control, held)


def test_a_base_that_moved_into_a_conflict_is_merged_in_by_the_agent(control, remote, tmp_path):
    control.write(manifest([[{"id": "a", "title": "Add a", "files": ["a.txt"]}]],
                           repo=str(remote), merge="auto", agent="rework", hook=False,
                           agents={"rework": rework_agent("plain")}, retry_backoff_seconds=0))
    control.doit("launch")
    wait_for(lambda: (control.workdir / "runs" / "a" / "attempt-1.exit").exists(),
             what="the first round")
    push_to_main(remote, tmp_path / "person", "a.txt", "the person's own line\n")
    status = beat_until(control, lambda s: s["a"]["status"] in ("merged", "stuck"),
                        what="the conflict to be merged in")
    a = status["a"]
    assert a["status"] == "merged", f"{a}\n" + story(control, "a")
    told = [r for _, r in journal(control, "a") if "rework round 1" in r]
    assert told and "conflicts in a.txt" in told[0], story(control, "a")
    assert tree_has(remote, "main", "a.txt") == "the person's own line\na: work\n"


def test_rounds_are_capped_then_a_person_decides(control, remote):
    """The demo agent only appends a line: the checks fail every round."""
    control.write(manifest([[{"id": "a", "title": "Add a", "files": ["a.txt"]}]],
                           repo=str(remote), merge="auto", checks="exit 3",
                           reactions={"max_rounds": 1}, retry_backoff_seconds=0))
    control.doit("launch")
    status = beat_until(control, lambda s: s["a"]["status"] in ("merged", "stuck"),
                        what="the rounds to run out")
    a = status["a"]
    assert a["status"] == "stuck" and a["attempts"] == 2, f"{a}\n" + story(control, "a")
    assert "1 rework round(s) spent" in a["reason"] and "doit retry a" in a["reason"]
    assert git(remote, "rev-list", "--count", "main").strip() == "1"  # nothing merged


def test_the_queue_lands_a_passed_run_in_one_push(control, remote):
    """Three tasks are tested speculatively, each on the merge of the one ahead: once their
    checks pass, one push lands all three (tested one at a time on the base, each landing made
    the others' results stale: one task a tick)."""
    control.write(manifest([[{"id": t, "title": f"Add {t}", "files": [f"{t}.txt"]}
                             for t in ("b", "c", "d")]],
                           repo=str(remote), merge="auto", checks="true", hook=False))
    control.doit("launch")
    status = beat_until(control, lambda s: any(t["status"] == "merged" for t in s.values()),
                        what="the first landing")
    assert all(t["status"] == "merged" for t in status.values()), status
    notes = [r for _, r in journal(control, "d") if r.startswith("checks `true` started")]
    assert notes and "after b, c" in notes[0], story(control, "d")
    # main went from the seed to the queue's last merge in one push: its first-parent chain
    # holds the three merges, in manifest order
    merges = main_states(remote)[1:]
    assert [git(remote, "log", "-1", "--format=%s", c).split()[1] for c in merges] == \
        ["task/b-add-b", "task/c-add-c", "task/d-add-d"]


def test_ci_failed_ignore_leaves_it_open_and_unmerged(control, remote):
    control.write(manifest([[{"id": "a", "title": "Add a", "files": ["a.txt"]}]],
                           repo=str(remote), merge="auto", checks="exit 3",
                           reactions={"ci_failed": "ignore"}))
    control.doit("launch")
    status = beat_until(control, lambda s: "ignore" in s["a"]["reason"], what="the failure")
    assert status["a"]["status"] == "pr_open" and status["a"]["attempts"] == 1, status["a"]
    assert "checks `exit 3` exited 3" in status["a"]["reason"]
    assert git(remote, "rev-list", "--count", "main").strip() == "1"  # nothing merged


def test_a_prompts_folder_without_the_rework_template_gets_the_retry_prompt(control, remote):
    """prompts/ copied before rework rounds existed has no rework.md.j2: the round starts with
    retry.md.j2, which carries the gate's reason and the checks' output."""
    control.write(manifest([[{"id": "a", "title": "Add a", "files": ["a.txt"]}]],
                           repo=str(remote), merge="auto", checks=CHECK, agent="rework",
                           agents={"rework": rework_agent("broken")}, retry_backoff_seconds=0,
                           hook=False))
    (control.path / "prompts" / "rework.md.j2").unlink()
    control.doit("launch")
    beat_until(control, lambda s: s["a"]["attempts"] == 2, what="the rework round")
    prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert "did not succeed: checks `" in prompt and "CHECK-7: a.txt says BROKEN" in prompt
