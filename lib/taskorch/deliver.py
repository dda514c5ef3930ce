"""The heartbeat's delivery step: push complete work, open its pull request, notice merges.

Agents often cannot push (a sandbox with no network), so taskorch pushes for them. A push that
fails leaves the task as it was, with the failure in its reason, and is tried again with backoff:
nothing is ever force-pushed and no commit is dropped.
"""

from __future__ import annotations

from taskorch import git, heal, launch, mergegate, prompts
from taskorch.forges import forge_for
from taskorch.forges.base import Delivery, DeliveryError, Forge, PullRequest
from taskorch.lifecycle import Event
from taskorch.project import Project
from taskorch.state import TaskRow, now, stamp


def push_early(project: Project) -> list[str]:
    """`push: early`: push running tasks' new commits, so a dead machine loses none of them.
    A failure changes nothing; the next tick tries again."""
    if project.manifest.push != "early":
        return []
    clone, lines = project.layout.clone, []
    for row in project.store.rows("running", "stuck").values():
        if not row.branch:
            continue
        head = git.branch_head(clone, row.branch)
        if head and head != row.base_commit and head != git.branch_head(clone, row.branch, "origin"):
            try:
                git.run("push", "--quiet", "origin", f"refs/heads/{row.branch}:refs/heads/{row.branch}",
                        cwd=clone)
                lines.append(f"{row.id}: pushed its work in progress ({head[:8]})")
            except git.GitError as exc:
                lines.append(f"{row.id}: early push failed, will try again: {exc}")
    return lines


def deliver(project: Project, at: float) -> list[str]:
    rows = project.store.rows("complete", "pr_open")
    ready = [r for r in rows.values() if r.status == "complete" and r.branch
             and (not r.retry_at or heal.due(r.retry_at, at))]
    open_ = [r for r in rows.values() if r.status == "pr_open" and r.branch]
    merged = project.store.count("merged")  # their rows are read only if the base was rewritten
    if not ready and not open_ and not (merged and base_check_due(project, at)):
        return []
    forge = forge_for(project.manifest.forge, project.layout.clone, project.manifest.base)
    try:
        forge.refresh()
    except DeliveryError as exc:
        return [f"delivery: {exc}; the next heartbeat tries again"]
    lines = [push(project, forge, row, at) for row in ready]
    queued: list[TaskRow] = []  # open, for the merge gate to test and land (mergegate.land)
    for row in open_ + [project.store.get(r.id) for r in ready]:
        if row and row.status == "pr_open":
            lines += check(project, forge, row, queued)
    if queued:
        lines += mergegate.land(project, forge, queued)
    if project.store.count("merged"):  # this tick's merges count too
        lines += watch_base(project)  # last: the base now holds this tick's own merges
    return [line for line in lines if line]


def pull_request(project: Project, row: TaskRow) -> PullRequest:
    """Title, body (from prompts/pr.md.j2, always closing the issue) and base of a task's PR."""
    task = project.manifest.task(row.id)
    context = {**launch.prompt_context(project, task, row.branch, row.attempts),
               "summary": row.reason}
    body = prompts.render(project.manifest.root / "prompts", "pr.md.j2", context)
    if task.issue and f"Closes #{task.issue}" not in body:
        body = f"Closes #{task.issue}\n\n{body}"
    title = f"fix: Issue #{task.issue} - {task.title}" if task.issue else task.title
    first_line = next((line for line in title.splitlines() if line.strip()), task.id)
    parents = launch.unmerged_parents(project, task)
    return PullRequest(title=first_line[:200], body=body,
                       base=parents[0] if len(parents) == 1 else project.manifest.base)


def push(project: Project, forge: Forge, row: TaskRow, at: float) -> str:
    if not row.verified:
        # Only a verified commit is delivered (a `doit skip`ped task, or a row from before
        # taskorch pinned deliveries, has none): verify it first.
        project.store.transition(row.id, "error", "complete but with no verified commit to "
                                 f"deliver; `doit retry {row.id}` verifies it again",
                                 event=Event.UNVERIFIED, retry_at=None)
        return f"{row.id}: error: no verified commit to deliver"
    try:
        pr = pull_request(project, row) if forge.opens_pull_requests else None
        delivery = forge.deliver(row.branch, row.verified,
                                 row.base_commit or f"origin/{project.manifest.base}", pr)
    except (DeliveryError, prompts.PromptError) as exc:
        failures = row.push_failures + 1
        retry = at + heal.backoff(failures, project.manifest.retry_backoff_seconds)
        reason = f"verified, but {exc}; trying again at {stamp(retry)[11:19]} UTC"
        project.store.transition(row.id, "complete", reason, event=Event.PUSH_FAILED,
                                 retry_at=stamp(retry),
                                 push_failures=failures)
        return f"{row.id}: {reason}"
    reason = f"delivered: {delivery.ref}{newer_than_verified(project, row)}"
    project.store.transition(row.id, "pr_open", reason, event=Event.DELIVERED, retry_at=None,
                             push_failures=0, delivery=delivery.ref, pr_number=delivery.number,
                             pr_base=delivery.base)
    return f"{row.id}: pr_open ({delivery.ref})"


def newer_than_verified(project: Project, row: TaskRow) -> str:
    """A note when the branch moved past the verified commit: those commits were not verified,
    so they were not pushed."""
    head = git.branch_head(project.layout.clone, row.branch)
    if not head or head == row.verified:
        return ""
    return (f" (the verified {row.verified[:8]}; the branch has moved on to {head[:8]}, which "
            "was not verified and is not delivered)")


def check(project: Project, forge: Forge, row: TaskRow, queued: list[TaskRow]) -> list[str]:
    """Has the delivered work been merged (or its PR closed)? Merge it here with `merge: auto`:
    through the forge, or, where the forge gates locally, by adding it to `queued`."""
    base_commit = row.base_commit or f"origin/{project.manifest.base}"
    delivery = Delivery(ref=row.delivery or "", number=row.pr_number, base=row.pr_base,
                        sha=row.verified)
    mark = forge.watermark(row.branch)
    gated = project.manifest.merge == "auto" and forge.gates_locally and bool(row.verified)
    if mark is not None and mark == row.checked_base and (project.manifest.merge == "manual"
                                                          or gated):
        # nothing the answer depends on has moved since it was last "open"
        if gated:
            queued.append(row)
        return []
    state = forge.state(row.branch, base_commit, delivery)
    how = f"merged into {project.manifest.base}"
    lines = []
    if state == "open" and row.pr_base and row.pr_base != project.manifest.base:
        lines += restack(project, forge, row, delivery)
    if state == "open" and gated:
        queued.append(row)
        if mark != row.checked_base:
            project.store.update({row.id: {"checked_base": mark}})
        return lines
    if state == "open" and not forge.gates_locally:
        review = forge.review(delivery)  # its pull request's own checks and reviews
        held = mergegate.hold(project, forge, row, delivery, review) if review else None
        if held is not None:
            return lines + held
    if state == "open" and project.manifest.merge == "auto":
        try:
            forge.merge(row.branch, delivery)
        except DeliveryError as exc:
            reason = f"delivered: {delivery.ref}; merge: auto could not merge it ({exc}); merge it by hand"
            if row.reason != reason:
                project.store.transition(row.id, "pr_open", reason, event=Event.MERGE_FAILED)
                return [f"{row.id}: {reason}"]
            return []
        forge.refresh()
        state, how = forge.state(row.branch, base_commit, delivery), f"{how} by taskorch (merge: auto)"
    if state == "merged":
        project.store.transition(row.id, "merged", how, event=Event.MERGED,
                                 completed_at=row.completed_at or now())
        return lines + [f"{row.id}: {how}"]
    if state == "closed":
        project.store.transition(row.id, "error", "its pull request was closed without being "
                                 f"merged (`doit retry {row.id}` starts it again)",
                                 event=Event.PR_CLOSED, retry_at=None)
        return lines + [f"{row.id}: error: closed without being merged"]
    if mark != row.checked_base:
        # Stored only once the answer is acted on, so a tick killed before then looks again.
        project.store.update({row.id: {"checked_base": mark}})
    return lines


def restack(project: Project, forge: Forge, row: TaskRow, delivery: Delivery) -> list[str]:
    """A PR stacked on another task's branch moves to the base once that task has merged."""
    merged = project.store.rows("merged").values()
    parent = next((r for r in merged if r.branch == row.pr_base), None)
    if parent is None:
        return []
    try:
        forge.retarget(delivery, project.manifest.base)
    except DeliveryError as exc:
        return [f"{row.id}: could not move its pull request to {project.manifest.base}: {exc}"]
    project.store.update({row.id: {"pr_base": project.manifest.base}})
    project.store.note(row.id, f"moved its pull request from {row.pr_base} to "
                               f"{project.manifest.base} ({parent.id} merged)")
    return [f"{row.id}: pull request now targets {project.manifest.base}"]


BASE_SEEN = "refs/taskorch/base-seen"  # the remote base's head as last seen
BASE_CHECK_SECONDS = 300  # with only merged tasks left, how often the base is fetched for this


def base_check_due(project: Project, at: float) -> bool:
    try:
        return at - project.layout.base_checked.stat().st_mtime >= BASE_CHECK_SECONDS
    except FileNotFoundError:
        return True


def watch_base(project: Project) -> list[str]:
    """A force-push to the remote base can drop work that was merged; those tasks must not stay
    `merged`. Only a base that moved other than forward is looked at closely."""
    clone, base = project.layout.clone, project.manifest.base
    project.layout.base_checked.touch()
    head, last = git.branch_head(clone, base, "origin"), git.ref_head(clone, BASE_SEEN)
    if not head or head == last:
        return []
    lines = []
    if last and not git.is_ancestor(clone, last, head):
        lines = [dropped(project, row, last, head)
                 for row in project.store.rows("merged").values()]
    git.run("update-ref", BASE_SEEN, head, cwd=clone)  # after acting: a killed tick looks again
    return [line for line in lines if line]


def dropped(project: Project, row: TaskRow, last: str, head: str) -> str:
    """Move a merged task whose work the base no longer holds back to `complete`, to be
    delivered again; '' when its work is still there."""
    clone, base = project.layout.clone, f"origin/{project.manifest.base}"
    sha = row.verified or (git.branch_head(clone, row.branch) if row.branch else None)
    if not sha:
        return ""
    fork = row.base_commit or git.run("merge-base", sha, base, cwd=clone, check=False)
    if git.merged_into(clone, sha, fork, base):
        return ""
    reason = (f"its merged work ({sha[:8]}) is no longer on {project.manifest.base}: the base was "
              f"force-pushed from {last[:8]} to {head[:8]}; delivering it again")
    project.store.transition(row.id, "complete", reason, event=Event.MERGED_WORK_DROPPED,
                             retry_at=None, verified=sha,
                             delivery=None, pr_number=None, pr_base=None, checked_base=None)
    return f"{row.id}: {reason}"
