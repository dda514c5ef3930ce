"""Launch one task: clone, worktree, rendered prompt, agent in its session, state `running`.

Every step is idempotent and the state is written last, so a run killed anywhere is finished by
the next one: an existing worktree or branch is reused, and a live session of the task is adopted
rather than started twice. The caller holds the work directory's lock.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskorch import attemptlog
from taskorch import budget, cloneconfig, doctor, git, hooks, prompts, repo, signals, wakeup
from taskorch.errors import TaskorchError
from taskorch.layout import write_atomic
from taskorch.lifecycle import Event
from taskorch.manifest import Task
from taskorch.project import NOT_STARTED, Project
from taskorch.runners import is_remote, ship
from taskorch.state import now

# What a launch can meet besides taskorch's own errors: a file system refusing (OSError) and text
# that cannot be written (ValueError: a lone surrogate, a NUL).
LAUNCH_ERRORS = (TaskorchError, OSError, ValueError)


class LaunchError(TaskorchError):
    """A task could not be started; its state is left as it was."""


@dataclass(frozen=True)
class Outcome:
    task_id: str
    launched: bool
    message: str


def launch(project: Project, task_id: str) -> Outcome:
    """Start `task_id` if its gates are open and a slot is free; say why not otherwise.

    Cheap checks first: a run with many ready tasks and no free slot asks this once per task.
    """
    row = project.store.get(task_id)
    if row is None or row.status not in NOT_STARTED:
        return Outcome(task_id, False, f"{task_id} is already {row.status if row else 'unknown'}")
    running, cap = project.occupied(), project.manifest.max_parallel
    if running >= cap:
        return Outcome(task_id, False, f"{task_id} is ready and waits for a free slot "
                                       f"({running} of max_parallel {cap} running)")
    blockers = project.plan.blockers(task_id, project.store.statuses())
    if blockers:
        return Outcome(task_id, False, "; ".join(blockers))
    task = project.manifest.task(task_id)
    spent = budget.spent(project, task)
    if spent:  # nothing more starts for it; a person raises the budget and retries
        project.store.transition(task_id, "stuck", spent, event=Event.BUDGET_SPENT)
        return Outcome(task_id, False, f"{task_id}: {spent}")
    waits = budget.limited(project, task)
    if waits:  # pending, with the reason; the heartbeat launches it once there is room
        if row.reason != waits:
            project.store.update({task_id: {"reason": waits}})
        return Outcome(task_id, False, f"{task_id} {waits}")
    refused = doctor.cannot_start(project.manifest.profile(project.manifest.task(task_id)))
    if refused:  # before anything is made or an attempt counted: a PATH lookup, no more
        raise LaunchError(f"{task_id}: {refused}")
    try:
        return start(project, project.manifest.task(task_id), row.attempts + 1)
    except LaunchError:
        raise  # already names the task
    except LAUNCH_ERRORS as exc:
        raise LaunchError(f"{task_id}: {exc}") from None


def start(project: Project, task: Task, attempt: int, template: str | None = None,
          extra: dict[str, Any] | None = None) -> Outcome:
    """Run attempt `attempt` of `task` in its worktree; `template` and `extra` make a restart."""
    manifest, layout = project.manifest, project.layout
    url = repo.remote_url(manifest.repo, manifest.root, layout.root)
    git.ensure_clone(url, layout.clone)
    cloneconfig.remember(layout)
    changed = cloneconfig.restore(layout)  # before our fetch and push use it
    if changed:
        print(f"taskorch: {changed}", file=sys.stderr)
    git.run("fetch", "--quiet", "origin", cwd=layout.clone)
    base = f"origin/{manifest.base}"
    if not git.has_ref(layout.clone, base):
        raise LaunchError(f"{task.id}: {repo.missing_base(layout.clone, manifest.base)}")
    branch = git.check_branch(git.branch_name(task.id, task.title, task.issue))
    worktree = layout.worktree(task.id)
    row = project.store.get(task.id)
    if git.ensure_worktree(layout.clone, worktree, branch, stack_point(project, task)):
        merge_parents(project, task, worktree, branch)
        base_commit = git.run("rev-parse", "HEAD", cwd=worktree)  # the task's own work starts here
    else:
        base_commit = (row.base_commit if row and row.base_commit
                       else git.run("merge-base", "HEAD", base, cwd=worktree))

    prompt_file = layout.prompt_file(task.id, attempt)
    context = {**prompt_context(project, task, branch, attempt), **(extra or {})}
    write_atomic(prompt_file, prompts.render(manifest.root / "prompts",
                                             template or task.prompt or prompts.TASK_TEMPLATE,
                                             context))
    profile = manifest.profile(task)
    if profile.person:
        return for_a_person(project, task, attempt, template, branch, worktree, base_commit)
    beat = project.write_hook() if manifest.hook else None
    hook_args = hooks.arguments(profile.hooks, layout.hooks_file(task.id, attempt), beat,
                                {**os.environ, **profile.env}) if profile.hooks else None
    spec = {
        "argv": profile.argv(prompt_file=str(prompt_file), model=manifest.model_for(task),
                             task_id=task.id, worktree=str(worktree), hook_args=hook_args),
        "prompt_file": str(prompt_file), "stdin": profile.stdin, "cwd": str(worktree),
        "exit_file": str(layout.exit_file(task.id, attempt)),
        "run": f"{project.runner.key}/{task.id}/{attempt}",  # the marker stop finds it by
        "env": {**profile.env, "TASKORCH_TASK_ID": task.id, "TASKORCH_ATTEMPT": str(attempt),
                "TASKORCH_PROMPT_FILE": str(prompt_file)},
        "on_exit": str(beat) if beat else None,
    }
    if profile.events:  # the wrapper reads the agent's stdout with this parser (signals/)
        suffix = signals.PARSERS[profile.events].raw_suffix
        spec.update(events=profile.events,
                    events_file=str(layout.events_file(task.id, attempt, suffix)),
                    signals_file=str(layout.signals_file(task.id, attempt)))

    session = project.session_name(task.id)
    pane = project.runner.snapshot().get(session)
    if pane is not None and pane.dead:
        project.runner.stop(session)  # a finished earlier attempt; its log and exit file stay
    if pane is None and project.runner.alive(session):  # never a second agent beside the first
        raise LaunchError(f"{task.id}: its agent still runs, but the runner cannot see its session")
    if pane is None or pane.dead:
        budget.record_launch(project, profile.name)
        attemptlog.mark_start(layout, task.id, attempt)  # where its output starts (doit logs)
        argv = job_command(project, task, attempt, spec, branch, worktree)
        job = project.runner.start(session, argv, worktree, layout.log(task.id))
        if job:
            write_atomic(layout.job_file(task.id, attempt), job + "\n")
        if is_remote(project.runner) and manifest.hook:
            wakeup.request(project, time.time() + wakeup.REMOTE_POLL,
                           "the remote jobs' next look")
        how = f"launched attempt {attempt} with agent {profile.name}"
    else:
        how = f"adopted its live session (attempt {attempt}, agent {profile.name})"
    project.store.transition(task.id, "running", how,
                             event=Event.RESTARTED if template else Event.LAUNCHED,
                             attempts=attempt, branch=branch,
                             worktree=str(worktree), session=session, started_at=now(),
                             last_progress=now(), base_commit=base_commit,
                             head=git.branch_head(layout.clone, branch), screen=None,
                             activity=None, nudged_at=None, retry_at=None, answered=None)
    return Outcome(task.id, True, f"{task.id}: {how} in session {session}, branch {branch}")


def for_a_person(project: Project, task: Task, attempt: int, template: str | None, branch: str,
                 worktree: Path, base_commit: str) -> Outcome:
    """`agent: human`: the worktree, branch and prompt file are ready; no program starts, and no
    session is made. The heartbeat leaves the task alone until `doit done <id>`."""
    how = (f"waits for a person: the worktree {worktree} (branch {branch}; the task's text in "
           f"{project.layout.prompt_file(task.id, attempt)}); `doit done {task.id}` when finished")
    project.store.transition(task.id, "running", how,
                             event=Event.RESTARTED if template else Event.LAUNCHED,
                             attempts=attempt, branch=branch, worktree=str(worktree),
                             session=None, started_at=now(), last_progress=now(),
                             base_commit=base_commit, head=git.branch_head(project.layout.clone,
                                                                           branch),
                             screen=None, activity=None, nudged_at=None, retry_at=None,
                             answered=None)
    return Outcome(task.id, True, f"{task.id}: {how}")


def job_command(project: Project, task: Task, attempt: int, spec: dict[str, Any], branch: str,
                worktree: Path) -> list[str]:
    """Write the attempt's spec and return what the runner starts: here, the wrapper that reads
    it. Written only for a start, never for an adopted session: that would drop the live job's
    commit from the spec, and with it the job's work (results.job_of)."""
    if is_remote(project.runner):
        return remote_job(project, task, attempt, spec, branch, worktree)
    spec_file = project.layout.spec_file(task.id, attempt)
    write_atomic(spec_file, json.dumps(spec, indent=2))
    return [sys.executable, "-m", "taskorch.wrapper", str(spec_file)]


def remote_job(project: Project, task: Task, attempt: int, spec: dict[str, Any], branch: str,
               worktree: Path) -> list[str]:
    """Publish the attempt as a job (runners/ship.py), keep its commit in the attempt's spec, and
    return the command a worker runs: it starts where the local branch is (a stacked start or an
    earlier attempt's work included)."""
    clone = project.layout.clone
    job = {"repo": git.run("remote", "get-url", "origin", cwd=clone), "task_id": task.id,
           "branch": branch, "start": ship.start_ref(task.id, attempt),
           "start_commit": git.run("rev-parse", "HEAD", cwd=worktree),
           "ref": ship.attempt_ref(task.id, attempt), "files": list(task.files),
           "argv": spec["argv"], "stdin": spec["stdin"], "env": spec["env"],
           "prompt": Path(spec["prompt_file"]).read_text(encoding="utf-8")}
    commit = ship.publish(clone, task.id, attempt, job)
    spec_file = project.layout.spec_file(task.id, attempt)  # results.py finds the job here
    write_atomic(spec_file, json.dumps({**spec, "job": commit}, indent=2))
    return ship.command(job["repo"], commit, ship.job_ref(task.id, attempt))


def stack_point(project: Project, task: Task) -> str:
    """Where a new branch starts. `gate: merged`: the updated base. `gate: complete`: the work
    it builds on that is not merged yet: one predecessor's branch (a stacked branch), or the
    base, with several predecessors merged in afterwards by `merge_parents`."""
    parents = unmerged_parents(project, task)
    return parents[0] if len(parents) == 1 else f"origin/{project.manifest.base}"


def unmerged_parents(project: Project, task: Task) -> list[str]:
    """The branches of the tasks `task` builds on that are complete but not yet merged."""
    if project.manifest.gate == "merged":
        return []
    rows = [project.store.get(p) for p in project.plan.stack_on[task.id]]
    return [r.branch for r in rows if r and r.status in ("complete", "pr_open") and r.branch]


def merge_parents(project: Project, task: Task, worktree: Path, branch: str) -> None:
    """Merge several predecessors' branches into a new branch; a conflict is an error that
    names the files, and leaves no half-made branch behind."""
    parents = unmerged_parents(project, task)
    if len(parents) < 2:
        return
    for parent in parents:
        try:
            git.run(*git.IDENTITY, "merge", "--quiet", "--no-edit", parent, cwd=worktree)
        except git.GitError:
            files = git.conflicted(worktree)
            git.run("merge", "--abort", cwd=worktree)
            git.run("worktree", "remove", "--force", str(worktree), cwd=project.layout.clone)
            git.run("branch", "-D", branch, cwd=project.layout.clone)
            reason = (f"merging the work it builds on conflicts: {parent} in "
                      f"{', '.join(files) or 'some files'}; resolve it, then `doit retry {task.id}`")
            project.store.transition(task.id, "error", reason, event=Event.PARENTS_CONFLICT,
                                     retry_at=None)
            raise LaunchError(f"{task.id}: {reason}")


def prompt_context(project: Project, task: Task, branch: str, attempt: int) -> dict[str, Any]:
    """The variables every prompt template gets (documented in prompts/README.md)."""
    manifest = project.manifest
    deps = [manifest.task(d) for d in task.depends_on]
    verify = task.verify
    return {
        "project": manifest.project,
        "task": {"id": task.id, "title": task.title, "issue": task.issue, "phase":
                 manifest.phases[task.phase].name, "files": list(task.files)},
        "id": task.id, "issue": task.issue, "title": task.title, "body": task.body,
        "files": list(task.files), "phase": manifest.phases[task.phase].name,
        "dependencies": [{"id": d.id, "title": d.title, "issue": d.issue} for d in deps],
        "base": manifest.base, "branch": branch, "attempt": attempt,
        "model": manifest.model_for(task), "verify": verify,
        "test_instructions": (f"Run `{verify}` in the repository root; it must pass."
                              if verify else "Run the project's tests and make sure they pass."),
        "spec": {"id": task.id, "title": task.title, "issue": task.issue,
                 "files": list(task.files), "branch": branch, "attempt": attempt},
    }
