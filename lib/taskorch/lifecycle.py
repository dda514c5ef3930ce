"""A task's lifecycle: its states, the events that move it, and the one table of allowed moves.

`state.Store.transition` checks every change against `TRANSITIONS` inside its transaction and
raises `IllegalTransition` for anything else, so no code path (nor a race between two of them)
can take a merged task back to `running` or skip work that is already on the base. The operator
verbs (`doit stop|retry|skip`) ask the same table first, to refuse in one line.

The values are the strings the store and `doit status --format json` have always used.
"""

from __future__ import annotations

from enum import Enum

from doit.exceptions import InvalidTask

from taskorch.errors import TaskorchError


class State(str, Enum):
    PENDING = "pending"    # not started; its gates are open (waiting only for a free slot)
    BLOCKED = "blocked"    # waiting on a dependency, a same-file predecessor or a phase gate
    RUNNING = "running"    # the agent is working
    STUCK = "stuck"        # needs a person: an unanswerable question, stopped or removed by hand
    ERROR = "error"        # the attempt failed; retried with error context until attempts run out
    COMPLETE = "complete"  # the agent finished and the work is verified
    PR_OPEN = "pr_open"    # the verified commit is pushed, its pull request open
    MERGED = "merged"      # the work is in the base branch
    SKIPPED = "skipped"    # done by a person's word (`doit skip`): dependents start; not delivered

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Event(str, Enum):
    """What moved a task. Each is done in one place, named in brackets."""

    # a new row: the manifest's runtime status, or what recover.py found in git (Store.seed)
    SEEDED = "seeded"
    # a not-started task's gates opened or closed, or why they are closed changed
    # (Project.record_gates)
    GATES_CHANGED = "gates_changed"
    # its first attempt started, or its live session was adopted (launch.launch -> start)
    LAUNCHED = "launched"
    # a failed task's retry came due (heartbeat.retry -> heal.restart -> launch.start)
    RESTARTED = "restarted"
    # merging the branches it builds on conflicts (launch.merge_parents)
    PARENTS_CONFLICT = "parents_conflict"
    # exited 0 or sat idle, and verify passed (heal.complete)
    EXITED_VERIFIED = "exited_verified"
    # exited non-zero, failed verify, lost its session or stalled after a nudge; a retry is
    # scheduled, or none is left (heal.fail)
    FAILED = "failed"
    # waits on a question not on its agent's answer list (heartbeat.heal_one)
    QUESTION = "question"
    # a stuck agent's question is gone: a person answered it (heartbeat.heal_one)
    ANSWERED = "answered"
    # taken out of the manifest while its agent ran; the agent is stopped (heartbeat.release_one)
    REMOVED_FROM_MANIFEST = "removed_from_manifest"
    # the push or the pull request failed; tried again after a backoff (deliver.push)
    PUSH_FAILED = "push_failed"
    # complete, but with no verified commit to deliver (deliver.push)
    UNVERIFIED = "unverified"
    # the verified commit is pushed and its pull request open (deliver.push)
    DELIVERED = "delivered"
    # merge: auto could not merge it (deliver.check)
    MERGE_FAILED = "merge_failed"
    # its work is on the base (deliver.check)
    MERGED = "merged"
    # its pull request was closed unmerged (deliver.check)
    PR_CLOSED = "pr_closed"
    # the merge gate's `checks` failed on its work merged into the base: back to its agent for
    # another round (error, retried at once with prompts/rework.md.j2), or, under `ci_failed:
    # notify`, left open for a person (mergegate.react)
    CHECKS_FAILED = "checks_failed"
    # its work no longer merges cleanly into the base: back to its agent to merge the base in,
    # or, under `conflict: notify`, left open for a person (mergegate.react)
    CONFLICTED = "conflicted"
    # a reviewer asked for changes on its pull request (github): back to its agent with the
    # review's comments, or, under `changes_requested: notify`, left for a person
    # (mergegate.hold)
    CHANGES_REQUESTED = "changes_requested"
    # the gate failed again with `max_rounds` rounds spent: a person decides (mergegate.react)
    ROUNDS_SPENT = "rounds_spent"
    # a force-push to the base dropped its merged work; delivered again (deliver.dropped)
    MERGED_WORK_DROPPED = "merged_work_dropped"
    # a launch or retry was due, but the task's or the project's `budget` is spent; the agent
    # of an attempt already running is never stopped for it (launch.launch, heartbeat.retry)
    BUDGET_SPENT = "budget_spent"
    # `doit stop`
    STOPPED_BY_HAND = "stopped_by_hand"
    # `doit retry`: attempt budget reset; the heartbeat restarts it
    RETRIED_BY_HAND = "retried_by_hand"
    # `doit retry --force`: verified work too (complete, pr_open); its agent works on the same
    # branch again, and the new verified commit is delivered as usual
    RETRIED_BY_HAND_FORCED = "retried_by_hand_forced"
    # `doit skip`
    SKIPPED_BY_HAND = "skipped_by_hand"
    # `doit skip --force`: verified work too, which is then not delivered (or no longer watched)
    SKIPPED_BY_HAND_FORCED = "skipped_by_hand_forced"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


P, B, R, S, E = State.PENDING, State.BLOCKED, State.RUNNING, State.STUCK, State.ERROR
C, O, M, K = State.COMPLETE, State.PR_OPEN, State.MERGED, State.SKIPPED
NOT_STARTED, WATCHED = (P, B), (R, S)

# The whole lifecycle: (event, from any of these, to one of these). None is "no row yet".
# A move to the same state is allowed only where listed (a new reason, nothing else changes).
# Nothing leaves `merged` but a base that lost its work; `skipped` only by `doit retry`.
RULES: tuple[tuple[Event, tuple[State | None, ...], tuple[State, ...]], ...] = (
    (Event.SEEDED,                 (None,),              tuple(State)),
    (Event.GATES_CHANGED,          NOT_STARTED,          NOT_STARTED),
    (Event.LAUNCHED,               NOT_STARTED,          (R,)),
    (Event.RESTARTED,              (E,),                 (R,)),
    (Event.PARENTS_CONFLICT,       (P, B, E),            (E,)),
    (Event.EXITED_VERIFIED,        WATCHED,              (C,)),
    (Event.FAILED,                 WATCHED,              (E,)),
    (Event.QUESTION,               WATCHED,              (S,)),
    (Event.ANSWERED,               (S,),                 (R,)),
    (Event.REMOVED_FROM_MANIFEST,  WATCHED,              (S,)),
    (Event.PUSH_FAILED,            (C,),                 (C,)),
    (Event.UNVERIFIED,             (C,),                 (E,)),
    (Event.DELIVERED,              (C,),                 (O,)),
    (Event.MERGE_FAILED,           (O,),                 (O,)),
    (Event.MERGED,                 (O,),                 (M,)),
    (Event.PR_CLOSED,              (O,),                 (E,)),
    (Event.CHECKS_FAILED,          (O,),                 (E, O)),
    (Event.CONFLICTED,             (O,),                 (E, O)),
    (Event.CHANGES_REQUESTED,      (O,),                 (E, O)),
    (Event.ROUNDS_SPENT,           (O,),                 (S,)),
    (Event.MERGED_WORK_DROPPED,    (M,),                 (C,)),
    (Event.BUDGET_SPENT,           (P, B, E),            (S,)),
    (Event.STOPPED_BY_HAND,        (R, S, E),            (S,)),
    (Event.RETRIED_BY_HAND,        (R, S, E, K),         (E,)),
    (Event.RETRIED_BY_HAND_FORCED, (R, S, E, K, C, O),   (E,)),
    (Event.SKIPPED_BY_HAND,        (P, B, R, S, E),      (K,)),
    (Event.SKIPPED_BY_HAND_FORCED, (P, B, R, S, E, C, O), (K,)),
)
TRANSITIONS: frozenset[tuple[State | None, Event, State]] = frozenset(
    (old, event, new) for event, olds, news in RULES for old in olds for new in news)


# An InvalidTask, so that doit reports it as one line wherever it surfaces (like state.StateError).
class IllegalTransition(TaskorchError, InvalidTask):
    """A change of state the table does not allow; the store is left as it was."""

    def __init__(self, task: str, old: State | None, new: State, event: Event):
        self.task, self.old, self.new, self.event = task, old, new, event
        sources = sorted(str(s) for s in sources_of(event) if s is not None)
        allowed = f"; {event} moves a task only from {', '.join(sources)}" if sources else ""
        super().__init__(f"{task}: cannot go from {old or 'no row'} to {new} on {event}{allowed}")


def sources_of(event: Event) -> set[State | None]:
    return {old for old, e, _ in TRANSITIONS if e == event}


def targets(old: str | None, event: Event | str) -> set[State]:
    """Where `event` takes a task in state `old` (empty: the event is not allowed there)."""
    old_state = State(old) if old is not None else None
    return {new for o, e, new in TRANSITIONS if o == old_state and e == Event(event)}


def check(old: str | None, new: str, event: Event | str, task: str = "?") -> None:
    """Raise IllegalTransition unless `event` may take a task from `old` to `new`."""
    old_state, new_state, ev = (State(old) if old is not None else None), State(new), Event(event)
    if (old_state, ev, new_state) not in TRANSITIONS:
        raise IllegalTransition(task, old_state, new_state, ev)
