"""The github forge's contract with `gh`, against a recording gh first on PATH.

Pushes go to a real bare repository; pull requests live in the recording gh's state file,
which the tests edit the way GitHub would change (merged, closed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import manifest, push_to_main, wait_for
from test_heartbeat import journal

BIN = Path(__file__).resolve().parent / "bin"
DEMO = {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"]}


@pytest.fixture
def gh(control, tmp_path):  # type: ignore[no-untyped-def]
    state, log = tmp_path / "gh-state.json", tmp_path / "gh-log.jsonl"
    control.env.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
                       FAKE_GH_STATE=str(state), FAKE_GH_LOG=str(log),
                       FAKE_GH_REMOTE=str(tmp_path / "remote.git"))

    class GH:
        def calls(self) -> list[dict]:
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

        def prs(self) -> list[dict]:
            return json.loads(state.read_text())["prs"] if state.exists() else []

        def set(self, number: int, **fields) -> None:  # type: ignore[no-untyped-def]
            data = json.loads(state.read_text())
            next(p for p in data["prs"] if p["number"] == number).update(fields)
            state.write_text(json.dumps(data))

        def seed(self, **pr) -> None:  # type: ignore[no-untyped-def]
            state.write_text(json.dumps({"prs": [pr]}))
    return GH()


def start(control, remote, tasks, **top) -> None:  # type: ignore[no-untyped-def]
    control.write(manifest([tasks], repo=str(remote), forge="github", agent="d",
                           agents={"d": DEMO}, retry_backoff_seconds=0, **top))
    control.doit("launch")


def until(control, task_id: str, state: str) -> dict:  # type: ignore[no-untyped-def]
    return wait_for(lambda: control.doit("heartbeat") and (
        s := control.peek()[task_id])["status"] == state and s, what=f"{task_id} {state}", interval=0.3)


HOSTILE = "$(touch /tmp/PWNED) `id`; C-c \"quoted\" {{ 7*7 }}"


def test_create_passes_the_body_by_file_and_closes_the_issue(control, remote, gh):
    start(control, remote, [{"id": "g", "issue": 12, "title": HOSTILE, "body": HOSTILE + "\nline 2",
                             "files": ["g.txt"]}])
    status = until(control, "g", "pr_open")
    assert (status["prNumber"], status["reason"]) == (1, "delivered: #1")
    create = next(c for c in gh.calls() if c["argv"][:2] == ["pr", "create"])
    argv = create["argv"]
    assert argv[argv.index("--title") + 1] == f"fix: Issue #12 - {HOSTILE}"
    assert argv[argv.index("--base") + 1] == "main"
    assert create["body"].startswith("Closes #12\n") and HOSTILE + "\nline 2" in create["body"]
    assert not any(HOSTILE in arg for arg in argv if not arg.startswith("fix:"))
    assert not Path("/tmp/PWNED").exists()


def test_an_existing_pull_request_is_found_not_created_again(control, remote, gh):
    gh.seed(number=7, url="https://github.com/acme/service/pull/7", state="OPEN",
            head="task/g-again", baseRefName="main", mergedAt=None)
    start(control, remote, [{"id": "g", "title": "again", "files": ["g.txt"]}])
    assert until(control, "g", "pr_open")["prNumber"] == 7
    assert not [c for c in gh.calls() if c["argv"][:2] == ["pr", "create"]]


def test_a_merged_pull_request_makes_the_task_merged(control, remote, gh):
    start(control, remote, [{"id": "g", "title": "m", "files": ["g.txt"]}])
    until(control, "g", "pr_open")
    gh.set(1, state="MERGED", mergedAt="2026-11-24T01:00:00Z")
    assert until(control, "g", "merged")["reason"] == "merged into main"


def test_a_pull_request_closed_unmerged_is_an_error_without_retry(control, remote, gh):
    start(control, remote, [{"id": "g", "title": "c", "files": ["g.txt"]}])
    until(control, "g", "pr_open")
    gh.set(1, state="CLOSED")
    status = until(control, "g", "error")
    assert "closed without being merged" in status["reason"] and status["attempts"] == 1


def test_retry_after_a_closed_pull_request_opens_a_new_one(control, remote, gh):
    # adopting the closed one again made the retry fail forever
    start(control, remote, [{"id": "g", "title": "c", "files": ["g.txt"]}])
    until(control, "g", "pr_open")
    gh.set(1, state="CLOSED")
    until(control, "g", "error")
    control.doit("retry", "g")
    status = until(control, "g", "pr_open")
    assert status["prNumber"] == 2 and [pr["state"] for pr in gh.prs()] == ["CLOSED", "OPEN"]


def test_a_stacked_pull_request_moves_to_main_when_its_parent_merges(control, remote, gh):
    start(control, remote, [{"id": "x", "title": "x", "files": ["s.txt"]},
                            {"id": "y", "title": "y", "files": ["s.txt"]}])
    until(control, "y", "pr_open")
    prs = {pr["head"]: pr for pr in gh.prs()}
    assert prs["task/y-y"]["baseRefName"] == "task/x-x"
    gh.set(prs["task/x-x"]["number"], state="MERGED", mergedAt="2026-11-24T01:00:00Z")
    until(control, "x", "merged")
    edit = [c["argv"] for c in gh.calls() if c["argv"][:2] == ["pr", "edit"]]
    assert edit == [["pr", "edit", str(prs["task/y-y"]["number"]), "--base", "main"]]


def test_one_pr_list_per_tick_watches_every_open_pull_request(control, remote, gh):
    start(control, remote, [{"id": f"g{i}", "title": f"g{i}", "files": [f"g{i}.txt"]}
                            for i in range(3)])
    for i in range(3):
        until(control, f"g{i}", "pr_open")
    before = len(gh.calls())
    control.doit("heartbeat")
    assert [c["argv"][:2] for c in gh.calls()[before:]] == [["pr", "list"]]
    number = {pr["head"]: pr["number"] for pr in gh.prs()}["task/g1-g1"]
    gh.set(number, state="MERGED", mergedAt="2026-11-24T01:00:00Z")
    assert until(control, "g1", "merged")["reason"] == "merged into main"
    assert [control.status()[t]["status"] for t in ("g0", "g2")] == ["pr_open", "pr_open"]


def test_a_pull_request_older_than_the_listing_is_viewed_alone(tmp_path, monkeypatch):
    from taskorch.forges.github import LISTED, GitHubForge
    from taskorch.forges.base import Delivery
    state, log = tmp_path / "state.json", tmp_path / "log.jsonl"
    prs = [{"number": n, "state": "MERGED" if n == 1 else "OPEN", "mergedAt": None, "url": "u",
            "head": f"h{n}", "baseRefName": "main"} for n in range(1, LISTED + 2)]
    state.write_text(json.dumps({"prs": prs}))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GH_STATE", str(state))
    monkeypatch.setenv("FAKE_GH_LOG", str(log))
    forge = GitHubForge(tmp_path, "main")
    assert forge.state("h2", "x", Delivery(ref="#2", number=2)) == "open"
    assert forge.state("h1", "x", Delivery(ref="#1", number=1)) == "merged"
    assert forge.state("h3", "x", Delivery(ref="#3", number=3)) == "open"
    calls = [json.loads(line)["argv"][:3] for line in log.read_text().splitlines()]
    assert calls == [["pr", "list", "--state"], ["pr", "view", "1"]]


def test_merge_auto_merges_through_gh(control, remote, gh):
    start(control, remote, [{"id": "g", "title": "auto", "files": ["g.txt"]}], merge="auto")
    until(control, "g", "merged")
    head = subprocess.run(["git", "rev-parse", "refs/heads/task/g-auto"], cwd=remote,
                          capture_output=True, text=True, check=True).stdout.strip()
    # pinned to the verified commit: GitHub refuses the merge if the branch moved since
    assert ["pr", "merge", "1", "--merge", "--match-head-commit", head] in \
        [c["argv"] for c in gh.calls()]


def test_every_gh_call_has_a_known_shape(control, remote, gh):
    start(control, remote, [{"id": "g", "title": "shapes", "files": ["g.txt"]}], merge="auto")
    until(control, "g", "merged")
    assert gh.calls() and all(not c["argv"][0].startswith("fake") for c in gh.calls())
    unexpected = [c for c in gh.calls() if c["argv"][:2] not in (
        ["pr", "list"], ["pr", "create"], ["pr", "view"], ["pr", "edit"], ["pr", "merge"])]
    assert unexpected == []


def test_import_reads_open_issues_through_gh(control, remote, gh, tmp_path):
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps([{"number": 5, "title": "From GitHub", "labels": [{"name": "high"}],
                                   "body": "Edit `README.md`, please."}]))
    control.env["FAKE_GH_ISSUES"] = str(issues)
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]], repo=str(remote),
                           forge="github"))
    out = control.doit("import").stdout
    assert "import: 1 new task(s): i5" in out and "+      - id: i5" in out
    assert ["issue", "list", "--state", "open", "--json", "number,title,body,labels", "--limit",
            "1000"] in [c["argv"] for c in gh.calls()]


# --- the pull request's own checks and reviews: the github forge's merge gate (issue 12) ------

REWORK = {"command": [sys.executable, str(Path(__file__).parent / "agents" / "rework.py"),
                      "broken"]}
FAILING = [{"__typename": "CheckRun", "name": "test", "status": "COMPLETED",
            "conclusion": "FAILURE", "detailsUrl":
            "https://github.com/acme/service/actions/runs/77/job/1"}]
GREEN = [{"__typename": "CheckRun", "name": "test", "status": "COMPLETED",
          "conclusion": "SUCCESS", "detailsUrl": "https://github.com/acme/service/actions/runs/78"},
         {"__typename": "StatusContext", "context": "ci/lint", "state": "SUCCESS"}]
PENDING = [{"__typename": "CheckRun", "name": "test", "status": "IN_PROGRESS",
            "conclusion": None, "detailsUrl": ""}]


def reworked(control, remote, gh, **top):  # type: ignore[no-untyped-def]
    """Task g delivered by the rework agent, its pull request's checks pending."""
    Path(control.env["FAKE_GH_STATE"]).write_text(json.dumps({"prs": [], "checks": PENDING}))
    control.write(manifest([[{"id": "g", "title": "gated", "files": ["g.txt"]}]],
                           repo=str(remote), forge="github", agent="r", agents={"r": REWORK},
                           retry_backoff_seconds=0, **top))
    control.doit("launch")
    until(control, "g", "pr_open")


def test_failing_checks_go_back_with_their_logs_and_only_green_merges(control, remote, gh):
    reworked(control, remote, gh, merge="auto")
    state = json.loads(Path(control.env["FAKE_GH_STATE"]).read_text())
    state["runs"] = {"77": "test\tRun tests\tCHECK-7: g.txt says BROKEN\n\x1b[31mFAILED\x1b[0m"}
    Path(control.env["FAKE_GH_STATE"]).write_text(json.dumps(state))
    control.doit("heartbeat")
    assert control.peek()["g"]["status"] == "pr_open"  # pending: not merged, nothing sent back
    gh.set(1, checks=FAILING)
    row = wait_for(lambda: control.doit("heartbeat") and (r := control.peek()["g"])["attempts"]
                   == 2 and r, what="the rework round", interval=0.3)
    told = [r for _, r in journal(control, "g") if "back to its agent" in r]
    assert told and "checks failed on #1" in told[0] and "test" in told[0], told
    prompt = (control.workdir / "runs" / "g" / "attempt-2.prompt.md").read_text()
    assert "CHECK-7: g.txt says BROKEN" in prompt and "\x1b" not in prompt
    assert ["run", "view", "77", "--log-failed"] in [c["argv"] for c in gh.calls()]
    # the fix is pushed to the same pull request, whose checks start again on the new head; it
    # merges once they are green
    gh.set(1, checks=PENDING)
    wait_for(lambda: control.doit("heartbeat") and control.peek()["g"]["status"] == "pr_open"
             and control.peek()["g"]["attempts"] == 2, what="the fix delivered", interval=0.3)
    assert not any(c["argv"][:2] == ["pr", "merge"] for c in gh.calls())
    gh.set(1, checks=GREEN)
    assert until(control, "g", "merged")["reason"].startswith("merged into main")
    assert [pr["number"] for pr in gh.prs()] == [1] and row["rounds"] == 1


def test_changes_requested_go_back_with_the_review_comments(control, remote, gh):
    reworked(control, remote, gh)
    gh.set(1, reviewDecision="CHANGES_REQUESTED",
           comments=[{"path": "g.txt", "line": 1, "body": "REVIEW-9: say fixed, not BROKEN"}],
           reviews=[{"state": "CHANGES_REQUESTED", "body": "Almost there.",
                     "author": {"login": "ana"}}])
    wait_for(lambda: control.doit("heartbeat") and control.peek()["g"]["attempts"] == 2,
             what="the rework round", interval=0.3)
    prompt = (control.workdir / "runs" / "g" / "attempt-2.prompt.md").read_text()
    assert "g.txt:1: REVIEW-9: say fixed, not BROKEN" in prompt and "ana: Almost there." in prompt
    told = [r for _, r in journal(control, "g") if "back to its agent" in r]
    assert told and "changes requested on #1" in told[0]


def test_a_failing_gh_never_fails_the_tick(control, remote, gh):
    reworked(control, remote, gh)
    for message in ("HTTP 403: API rate limit exceeded for user ID 1.",
                    "error connecting to api.github.com"):
        state = json.loads(Path(control.env["FAKE_GH_STATE"]).read_text())
        Path(control.env["FAKE_GH_STATE"]).write_text(json.dumps({**state, "fail": message}))
        out = control.doit("heartbeat").stdout
        assert message.split(":")[0] in out and "the next heartbeat tries again" in out, out
        assert control.peek()["g"]["status"] == "pr_open"
        Path(control.env["FAKE_GH_STATE"]).write_text(json.dumps(state))
    gh.set(1, checks=GREEN)
    control.doit("heartbeat")
    assert control.peek()["g"]["status"] == "pr_open"  # merge: manual: green, left for a person


def test_a_conflicting_pull_request_goes_back_with_the_files_and_merges(control, remote, gh,
                                                                        tmp_path):
    REWORK_PLAIN = {"command": [*REWORK["command"][:-1], "plain"]}
    Path(control.env["FAKE_GH_STATE"]).write_text(json.dumps({"prs": [], "checks": PENDING}))
    control.write(manifest([[{"id": "g", "title": "gated", "files": ["g.txt"]}]],
                           repo=str(remote), forge="github", agent="r",
                           agents={"r": REWORK_PLAIN}, retry_backoff_seconds=0, merge="auto"))
    control.doit("launch")
    until(control, "g", "pr_open")
    push_to_main(remote, tmp_path / "person", "g.txt", "the person's own line\n")
    gh.set(1, mergeable="CONFLICTING")
    wait_for(lambda: control.doit("heartbeat") and control.peek()["g"]["attempts"] == 2,
             what="the rework round", interval=0.3)
    told = [r for _, r in journal(control, "g") if "back to its agent" in r]
    assert told and "#1 at" in told[0] and "no longer merges cleanly into main" in told[0]
    prompt = (control.workdir / "runs" / "g" / "attempt-2.prompt.md").read_text()
    assert "- g.txt" in prompt and "git merge origin/main" in prompt
    gh.set(1, mergeable="MERGEABLE", checks=GREEN)
    until(control, "g", "merged")
    merged = subprocess.run(["git", "show", "task/g-gated:g.txt"], cwd=remote,
                            capture_output=True, text=True, check=True).stdout
    assert merged == "the person's own line\ng: work\n"
