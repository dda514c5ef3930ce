"""The Forge Protocol: deliver a task's branch, and tell whether that delivery was merged.

Like runners, a forge is a small backend: the heartbeat only ever calls these methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DeliveryError(Exception):
    """A push or a pull request failed; the message is the forge's own, for the journal."""


@dataclass(frozen=True)
class Delivery:
    ref: str                 # what `doit status` shows: a PR number or a remote branch
    number: int | None = None


class Forge(Protocol):
    def refresh(self) -> None:
        """Learn the remote's current state once per tick (one fetch, one API call...)."""

    def deliver(self, branch: str, base_commit: str) -> Delivery:
        """Push `branch` (never forced) and open its pull request, or find the one open."""

    def state(self, branch: str, base_commit: str, delivery: Delivery) -> str:
        """'open', 'merged' or 'closed' (closed without being merged)."""

    def merge(self, branch: str) -> None:
        """Merge the delivered branch into the base (for `merge: auto`)."""
