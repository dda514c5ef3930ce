"""The GitHub forge, through the `gh` CLI the user has logged in.

Branches are pushed with git; pull requests are found before they are created (so a killed
heartbeat never opens two), created with `--body-file` (the body holds issue text, which never
goes on a command line), watched with one `gh pr list` per tick, and moved to the base branch with
`gh pr edit --base` once the branch they were stacked on has merged.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from taskorch import git
from taskorch.forges.base import Delivery, DeliveryError, PullRequest, Review
from taskorch.screen import clean
from taskorch.forges.git import GitForge

STATES = {"MERGED": "merged", "CLOSED": "closed", "OPEN": "open"}


# One `gh pr list` per tick answers for this many of the newest pull requests; an older one is
# asked about alone with `gh pr view`.
LISTED = 100
LIST_FIELDS = "number,state,headRefOid,statusCheckRollup,reviewDecision,mergeable"
RUN_URL = re.compile(r"/actions/runs/(\d+)")
LOG_LINES = 40  # the end of the failing jobs' logs that a rework prompt carries
MAX_COMMENTS, COMMENT_WIDTH = 30, 2000
PASSED = ("SUCCESS", "NEUTRAL", "SKIPPED")
FAILED = ("FAILURE", "ERROR", "TIMED_OUT", "CANCELLED", "ACTION_REQUIRED", "STARTUP_FAILURE")


def check_name(check: dict[str, Any]) -> str:
    return str(check.get("name") or check.get("context") or "a check")


def check_outcome(check: dict[str, Any]) -> str:
    """passed, pending or failed, for a CheckRun (status, conclusion) or a StatusContext
    (state), as statusCheckRollup gives them."""
    if check.get("__typename") == "StatusContext" or "context" in check:
        state = check.get("state")
        return "passed" if state == "SUCCESS" else "failed" if state in FAILED else "pending"
    if check.get("status") != "COMPLETED":
        return "pending"
    conclusion = check.get("conclusion")
    return "passed" if conclusion in PASSED else "failed" if conclusion in FAILED else "pending"


class GitHubForge(GitForge):
    opens_pull_requests = True
    gates_locally = False  # the pull request's own checks are the gate

    def __init__(self, clone: Path, base: str):
        super().__init__(clone, base)
        self._states: dict[int, str] | None = None  # PR number -> state, since the last refresh
        self._listed: dict[int, dict[str, Any]] = {}  # PR number -> what the list said of it

    def refresh(self) -> None:
        """One fetch and one `gh pr list` for the tick. Listing here, not when the first state
        is asked, makes a failing gh a DeliveryError the caller reports once and gets past."""
        super().refresh()
        self._states = None
        self._states = self._list()

    def _list(self) -> dict[int, str]:
        """Every listed pull request's state, and (kept for `review`) its head, checks, review
        decision and mergeability: one call for all of them."""
        listed = self._json("pr", "list", "--state", "all", "--json", LIST_FIELDS,
                            "--limit", str(LISTED))
        self._listed = {pr["number"]: pr for pr in listed}
        return {pr["number"]: pr["state"] for pr in listed}

    def review(self, delivery: Delivery) -> Review | None:
        number = delivery.number or -1
        pr = self._listed.get(number)
        if pr is None and self._states is not None and number in self._states:
            return Review(checks="pending")  # opened (or found) after this tick's list
        if pr is None:  # older than the newest LISTED
            pr = self._json("pr", "view", str(number), "--json", LIST_FIELDS)
            self._listed[number] = pr
        if pr.get("state") != "OPEN":
            return None
        if delivery.sha and pr.get("headRefOid") != delivery.sha:
            return Review(checks="pending")  # what GitHub says is of another commit
        outcomes = [(check_name(c), check_outcome(c)) for c in pr.get("statusCheckRollup") or []]
        failed = tuple(name for name, outcome in outcomes if outcome == "failed")
        pending = any(outcome == "pending" for _, outcome in outcomes)
        return Review(checks="failed" if failed else "pending" if pending else "passed",
                      failed=failed, decision=pr.get("reviewDecision") or "",
                      conflict=pr.get("mergeable") == "CONFLICTING")

    def details(self, delivery: Delivery, review: Review) -> Review:
        """The words behind a failed review, asked only when it is acted on: the failing jobs'
        logs (`gh run view --log-failed`), the review comments (`gh api`) and bodies."""
        pr = self._listed.get(delivery.number or -1) or {}
        output, comments = "", review.comments
        if review.checks == "failed":
            runs = sorted({m.group(1) for c in pr.get("statusCheckRollup") or []
                           if check_outcome(c) == "failed"
                           and (m := RUN_URL.search(str(c.get("detailsUrl") or "")))})
            try:
                logs = [self._gh("run", "view", run, "--log-failed") for run in runs[:3]]
                output = "\n".join(clean("\n".join(logs)).splitlines()[-LOG_LINES:])
            except DeliveryError as exc:
                output = f"(the failing jobs' logs could not be read: {exc})"
        if review.decision == "CHANGES_REQUESTED":
            comments = self._comments(delivery.number or 0)
        return replace(review, output=output, comments=comments)

    def _comments(self, number: int) -> tuple[str, ...]:
        try:
            inline = self._json("api", f"repos/{{owner}}/{{repo}}/pulls/{number}/comments")
            reviews = self._json("pr", "view", str(number), "--json", "reviews")["reviews"]
        except (DeliveryError, KeyError, TypeError) as exc:
            return (f"(the review comments could not be read: {exc})",)
        said = [f"{r.get('author', {}).get('login', 'a reviewer')}: {r['body']}"
                for r in reviews if r.get("state") == "CHANGES_REQUESTED" and r.get("body")]
        said += [f"{c.get('path')}:{c.get('line') or c.get('original_line') or '?'}: "
                 f"{c.get('body', '')}" for c in inline if isinstance(c, dict)]
        return tuple(clean(text)[:COMMENT_WIDTH] for text in said[:MAX_COMMENTS])

    def watermark(self, branch: str) -> str | None:
        return None  # a pull request can be closed on GitHub with nothing in git to show it

    def _gh(self, *args: str) -> str:
        timeout = git.network_timeout()  # GitHub that never answers must not hold the tick
        try:
            proc = subprocess.run(["gh", *args], cwd=self.clone, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise DeliveryError("gh is not installed; install GitHub's CLI and run "
                                "`gh auth login`, or set forge: git") from None
        except subprocess.TimeoutExpired:
            raise DeliveryError(f"gh {args[0]} {args[1]}: no answer in {timeout:g} s") from None
        if proc.returncode != 0:
            detail = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}")
            raise DeliveryError(f"gh {args[0]} {args[1]}: {detail.splitlines()[-1]}")
        return proc.stdout

    def _json(self, *args: str) -> Any:
        out = self._gh(*args)
        try:
            return json.loads(out)
        except ValueError:
            raise DeliveryError(f"gh {args[0]} {args[1]} printed something that is not JSON: "
                                f"{out.strip()[:80]!r}") from None

    def deliver(self, branch: str, sha: str, base_commit: str,
                pr: PullRequest | None = None) -> Delivery:
        super().deliver(branch, sha, base_commit)
        listed = self._json("pr", "list", "--head", branch, "--state", "all",
                            "--json", "number,url,state,baseRefName", "--limit", "20")
        # A closed pull request is history: adopting it again would make a retry fail forever.
        found = [p for p in listed if p.get("state") != "CLOSED"]
        if found:
            self._know(found[0]["number"], found[0]["state"])
            return Delivery(ref=f"#{found[0]['number']}", number=found[0]["number"],
                            base=found[0]["baseRefName"], sha=sha)
        assert pr is not None
        with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as body:
            body.write(pr.body)
        try:
            url = self._gh("pr", "create", "--title", pr.title, "--base", pr.base, "--head",
                           branch, "--body-file", body.name).strip()
        finally:
            Path(body.name).unlink(missing_ok=True)
        match = re.search(r"/pull/(\d+)", url)
        if not match:
            raise DeliveryError(f"gh pr create answered {url!r}, not a pull request URL")
        self._know(int(match.group(1)), "OPEN")
        return Delivery(ref=f"#{match.group(1)}", number=int(match.group(1)), base=pr.base,
                        sha=sha)

    def state(self, branch: str, base_commit: str, delivery: Delivery) -> str:
        if delivery.number is None:
            return super().state(branch, base_commit, delivery)
        if self._states is None:
            self._states = self._list()
        state = self._states.get(delivery.number)
        if state is None:  # older than the newest LISTED
            state = self._json("pr", "view", str(delivery.number), "--json",
                               "state,mergedAt,number,url")["state"]
        return STATES.get(state, "open")

    def _know(self, number: int, state: str) -> None:
        """A pull request found or opened after this tick's list: its state without asking."""
        if self._states is not None:
            self._states[number] = state

    def retarget(self, delivery: Delivery, base: str) -> None:
        self._gh("pr", "edit", str(delivery.number), "--base", base)

    def merge(self, branch: str, delivery: Delivery, tested: str | None = None) -> None:
        if delivery.number is None:
            return super().merge(branch, delivery, tested)
        pinned = ("--match-head-commit", delivery.sha) if delivery.sha else ()
        self._gh("pr", "merge", str(delivery.number), "--merge", *pinned)
