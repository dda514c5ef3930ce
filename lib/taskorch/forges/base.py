"""The Forge Protocol: deliver a task's branch, and tell whether that delivery was merged.

Like runners, a forge is a small backend: the heartbeat only ever calls these methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from taskorch.errors import TaskorchError


class DeliveryError(TaskorchError):
    """A push or a pull request failed; the message is the forge's own, for the journal."""


@dataclass(frozen=True)
class Delivery:
    ref: str                 # what `doit status` shows: a PR number or a remote branch
    number: int | None = None
    base: str | None = None  # the branch a pull request targets (a parent's, while stacked)
    sha: str | None = None   # the verified commit that was pushed: what may merge


@dataclass(frozen=True)
class Review:
    """What a pull request's own checks and reviews say of its current head (github): the
    merge gate of a forge that does not gate locally (mergegate.reviewed)."""

    checks: str                     # passed | pending | failed (no checks at all: passed)
    failed: tuple[str, ...] = ()    # the failing checks' names
    output: str = ""                # the failing jobs' logs, their ends
    decision: str = ""              # APPROVED | CHANGES_REQUESTED | REVIEW_REQUIRED | ""
    comments: tuple[str, ...] = ()  # the review's words: "path:line: body", or a review body
    conflict: bool = False          # GitHub says the branch no longer merges cleanly


@dataclass(frozen=True)
class PullRequest:
    title: str
    body: str
    base: str                # the base branch, or the branch it is stacked on


class BaseMoved(DeliveryError):
    """The base moved since the merge was tested: it is tested again on the new base."""


class Forge(Protocol):
    opens_pull_requests: bool  # whether `deliver` uses the PullRequest (title, body, base)
    gates_locally: bool  # whether the merge gate (mergegate.py) tests a merge before `merge`

    def refresh(self) -> None:
        """Learn the remote's current state once per tick (one fetch, one API call...)."""

    def deliver(self, branch: str, sha: str, base_commit: str,
                pr: PullRequest | None = None) -> Delivery:
        """Push the verified commit `sha` as `branch` (never forced) and open its pull request,
        or find the one open. Nothing newer than `sha` is pushed."""

    def state(self, branch: str, base_commit: str, delivery: Delivery) -> str:
        """'open', 'merged' or 'closed' (closed without being merged)."""

    def watermark(self, branch: str) -> str | None:
        """A value that changes whenever `state` could answer differently for `branch`, when the
        forge can tell cheaply; None when it cannot (then `state` is asked every tick)."""

    def review(self, delivery: Delivery) -> Review | None:
        """What the pull request's checks and reviews say of the delivered commit; None where
        the forge has none (git), or while they do not yet speak of that commit."""

    def details(self, delivery: Delivery, review: Review) -> Review:
        """`review` with the words behind its failure (logs, review comments): asked only when
        the failure is acted on, since each is a call of its own."""

    def retarget(self, delivery: Delivery, base: str) -> None:
        """Point a stacked pull request at `base` once the branch under it has merged."""

    def merge(self, branch: str, delivery: Delivery, tested: str | None = None) -> None:
        """Merge the delivered commit (`delivery.sha`) into the base (for `merge: auto`), and
        refuse when the branch no longer points at it. `tested`: the merge commit the merge
        gate passed, to become the base exactly (BaseMoved when the base is no longer its
        parent)."""
