"""The plain git forge: a delivery is the verified commit pushed as the task's branch.

"Merged" means that commit is an ancestor of the remote base, or the same change is there after
a squash (git.squashed_into: by patch-id).
"""

from __future__ import annotations

from pathlib import Path

from taskorch import git
from taskorch.forges.base import BaseMoved, Delivery, DeliveryError, PullRequest, Review


class GitForge:
    opens_pull_requests = False
    gates_locally = True

    def __init__(self, clone: Path, base: str):
        self.clone = clone
        self.base = base

    @property
    def remote_base(self) -> str:
        return f"origin/{self.base}"

    def refresh(self) -> None:
        try:
            git.run("fetch", "--quiet", "--prune", "origin", cwd=self.clone)
        except git.GitError as exc:
            raise DeliveryError(f"fetch from origin failed: {exc}") from None

    def deliver(self, branch: str, sha: str, base_commit: str,
                pr: PullRequest | None = None) -> Delivery:
        try:
            git.run("push", "--quiet", "origin", f"{sha}:refs/heads/{branch}", cwd=self.clone)
        except git.GitError as exc:
            raise DeliveryError(f"push of {branch} failed: {exc}{_hint(str(exc), branch)}") from None
        return Delivery(ref=f"origin/{branch}", sha=sha)

    def state(self, branch: str, base_commit: str, delivery: Delivery) -> str:
        head = delivery.sha or git.branch_head(self.clone, branch)
        if head and git.merged_into(self.clone, head, base_commit, self.remote_base):
            return "merged"
        if not git.has_ref(self.clone, f"refs/remotes/origin/{branch}"):
            return "closed"  # the branch left the remote without being merged
        return "open"

    def watermark(self, branch: str) -> str | None:
        # The answer depends only on the remote base and whether the branch is still there.
        if not git.has_ref(self.clone, f"refs/remotes/origin/{branch}"):
            return None
        return git.branch_head(self.clone, self.base, "origin")

    def retarget(self, delivery: Delivery, base: str) -> None:
        """A pushed branch has no base of its own to move."""

    def review(self, delivery: Delivery) -> Review | None:
        return None  # a pushed branch has no checks or reviews of its own: the gate is local

    def details(self, delivery: Delivery, review: Review) -> Review:
        return review

    def merge(self, branch: str, delivery: Delivery, tested: str | None = None) -> None:
        """Push the gate's tested merge as the base, or merge the delivered commit into the base
        in the clone's own checkout, then push the base (no force either way)."""
        if tested:
            try:
                git.run("push", "--quiet", "origin", f"{tested}:refs/heads/{self.base}",
                        cwd=self.clone)
            except git.GitError as exc:
                if "rejected" in str(exc) or "fetch first" in str(exc) or "non-fast" in str(exc):
                    raise BaseMoved(f"{self.base} moved on the remote since the merge was "
                                    "tested") from None
                raise DeliveryError(f"push of the tested merge to {self.base} failed: "
                                    f"{exc}") from None
            return
        commit = delivery.sha or branch
        try:
            git.run("checkout", "--quiet", "-B", self.base, self.remote_base, cwd=self.clone)
            git.run(*git.IDENTITY, "merge", "--quiet", "--no-ff", "-m",
                    f"Merge {branch} (taskorch merge: auto)", commit, cwd=self.clone)
            git.run("push", "--quiet", "origin", f"{self.base}:{self.base}", cwd=self.clone)
        except git.GitError as exc:
            conflicts = git.conflicted(self.clone) if self._merging() else []
            if self._merging():
                git.run("merge", "--abort", cwd=self.clone)
            where = f"conflicts in {', '.join(conflicts)}" if conflicts else str(exc)
            raise DeliveryError(f"merge of {branch} into {self.base} failed: {where}") from None

    def _merging(self) -> bool:
        return (self.clone / ".git" / "MERGE_HEAD").exists()


def _hint(message: str, branch: str) -> str:
    """What to do about a rejected push, in words; git's own is only "failed to push some refs"."""
    if "rejected" in message or "non-fast-forward" in message or "fetch first" in message:
        return (f"; the remote {branch} has commits the verified one does not contain (history "
                "rewritten after an earlier push?); taskorch never force-pushes: delete or "
                "rename the remote branch, or merge it into the task branch")
    return ""
