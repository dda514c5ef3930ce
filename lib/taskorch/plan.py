"""The DAG: dependsOn, same-file serialization, phase gates; waves; why a task waits.

Edges point from a task to what it waits for. Phase gates are nodes of their own (`phase:N`,
open when every task of phase N is done), so phase edges stay O(tasks). Same-file edges are
chains built in manifest order (adjusted so dependsOn is respected), never all pairs.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable

from taskorch import schema
from taskorch.manifest import Manifest, Task
from taskorch.overlap import FileIndex

DONE_STATES = frozenset({"complete", "pr_open", "merged", "skipped"})
MERGED_STATES = frozenset({"merged", "skipped"})


@dataclass(frozen=True)
class Wait:
    """One thing a task waits for: a task (`t4`) or a phase gate (`phase:1`)."""

    id: str
    reason: str  # dependsOn | same-file | phase
    files: tuple[str, ...] = ()
    detail: str = ""  # for same-file: 'both touch x' or 'it touches a, t4 touches b'


@dataclass
class Plan:
    manifest: Manifest
    waits: dict[str, list[Wait]] = field(default_factory=dict)
    # The tasks whose work a task builds on: dependsOn, plus the latest earlier task touching
    # overlapping files in any phase (phase gates hide those edges from `waits`, but with
    # `gate: complete` the work is not on the base yet, so the branch must start from it).
    stack_on: dict[str, list[str]] = field(default_factory=dict)
    _priority: dict[str, int] | None = field(default=None, repr=False)
    _order: list[str] | None = field(default=None, repr=False)  # kept in plancache's pickle

    @property
    def tasks(self) -> list[Task]:
        return self.manifest.tasks

    @property
    def done(self) -> frozenset[str]:
        """The states that open a gate: complete or later, or only merged (`gate: merged`)."""
        return MERGED_STATES if self.manifest.gate == "merged" else DONE_STATES

    def gate_id(self, phase: int) -> str:
        return f"phase:{phase + 1}"

    def phase_of_gate(self, gate: str) -> int:
        return int(gate.split(":", 1)[1]) - 1

    def edges(self) -> Iterable[tuple[str, str, Wait]]:
        """(waiter, waited-for, wait) for every edge, gates included."""
        for phase_index, phase in enumerate(self.manifest.phases[:-1]):
            gate = self.gate_id(phase_index)
            for task in phase.tasks:
                yield gate, task.id, Wait(task.id, "phase")
        for task in self.tasks:
            for wait in self.waits[task.id]:
                yield task.id, wait.id, wait

    def reasons(self, task_id: str) -> list[tuple[str, str]]:
        """(what it waits for, one sentence) per predecessor, with that edge's reasons merged."""
        merged: dict[str, list[str]] = {}
        for wait in self.waits[task_id]:
            if wait.reason == "dependsOn":
                text = "dependsOn"
            elif wait.reason == "same-file":
                text = wait.detail
            else:
                text = f"every task of {wait.detail} must be complete first"
            merged.setdefault(wait.id, []).append(text)
        return [(waited, f"{task_id} waits for {waited}: {'; '.join(texts)}")
                for waited, texts in merged.items()]

    def unfinished(self, status: dict[str, str]) -> dict[str, list[str]]:
        """Per phase gate, the tasks of that phase not yet done (computed once, used by all)."""
        return {self.gate_id(p): [t.id for t in phase.tasks if status.get(t.id) not in self.done]
                for p, phase in enumerate(self.manifest.phases)}

    def waiting(self, task_id: str, status: dict[str, str],
                unfinished: dict[str, list[str]]) -> bool:
        """Whether `task_id` must wait: `blockers` without writing its sentences (a big status
        lists only the tasks that do not)."""
        for wait in self.waits[task_id]:
            if wait.id.startswith("phase:"):
                if unfinished[wait.id]:
                    return True
            elif status.get(wait.id) not in self.done:
                return True
        return False

    def blockers(self, task_id: str, status: dict[str, str],
                 unfinished: dict[str, list[str]] | None = None) -> list[str]:
        """Why `task_id` cannot start yet, one sentence per open wait; empty when it may start.

        Pass `unfinished` from `unfinished(status)` when asking for many tasks at once.
        """
        out = []
        for waited, sentence in self.reasons(task_id):
            if waited.startswith("phase:"):
                phase = self.manifest.phases[self.phase_of_gate(waited)]
                left = (unfinished or self.unfinished(status))[waited]
                if left:
                    shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
                    word = "merged" if self.manifest.gate == "merged" else "complete"
                    out.append(f"{task_id} waits for {phase.name}: {shown} not {word} yet")
            elif status.get(waited) not in self.done:
                out.append(sentence)
        return out

    def priority(self) -> dict[str, int]:
        """Per task, how many tasks the longest chain waiting on it holds (itself included).

        When slots are scarce, starting the longest chains first shortens the whole run:
        bench/simulate.py measured the worst case at 2 to 4 slots fall from 1.20 to 1.13 times
        the lower bound. Ties keep manifest order.
        """
        if self._priority is None:
            waiters: dict[str, list[str]] = {}
            pending: dict[str, int] = {}
            for waiter, waited, _ in self.edges():
                waiters.setdefault(waited, []).append(waiter)
                pending[waiter] = pending.get(waiter, 0) + 1
            nodes = {t.id for t in self.tasks} | set(pending) | set(waiters)
            order = [n for n in nodes if not pending.get(n)]
            for node in order:  # grows while it is walked: a topological order
                for waiter in waiters.get(node, []):
                    pending[waiter] -= 1
                    if pending[waiter] == 0:
                        order.append(waiter)
            tasks = {t.id for t in self.tasks}
            chain: dict[str, int] = {}
            for node in reversed(order):
                below = max((chain[w] for w in waiters.get(node, [])), default=0)
                chain[node] = below + (node in tasks)
            self._priority = {t.id: chain[t.id] for t in self.tasks}
        return self._priority

    def launch_order(self) -> list[str]:
        """The order ready tasks are launched in: the tasks' own `priority` (high first), then
        the longest chain first, then manifest order."""
        if self._order is None:
            chain = self.priority()
            rank = {p: n for n, p in enumerate(schema.PRIORITIES)}
            self._order = [t.id for t in sorted(self.tasks, key=lambda t: (
                -rank[t.priority], -chain[t.id], t.index))]
        return list(self._order)

    def waves(self, max_parallel: int | None = None) -> list[list[str]]:
        """What starts together if everything before it succeeds, at most max_parallel a wave."""
        cap = max_parallel or self.manifest.max_parallel
        rank = {task_id: n for n, task_id in enumerate(self.launch_order())}
        index = {t.id: rank[t.id] for t in self.tasks}  # who starts first follows launch order
        position = {t.id: t.index for t in self.tasks}
        waiters: dict[str, list[str]] = {}
        pending: dict[str, int] = {}
        for waiter, waited, _ in self.edges():
            waiters.setdefault(waited, []).append(waiter)
            pending[waiter] = pending.get(waiter, 0) + 1
        ready = [(index[t.id], t.id) for t in self.tasks if not pending.get(t.id)]
        heapq.heapify(ready)
        waves = []
        while ready:
            wave = [heapq.heappop(ready)[1] for _ in range(min(cap, len(ready)))]
            waves.append(sorted(wave, key=lambda task_id: position[task_id]))  # shown in manifest order
            finished = list(wave)
            while finished:
                node = finished.pop()
                for waiter in waiters.get(node, []):
                    pending[waiter] -= 1
                    if pending[waiter] == 0:
                        if waiter in index:
                            heapq.heappush(ready, (index[waiter], waiter))
                        else:
                            finished.append(waiter)  # a gate opens at once
        return waves


def build(manifest: Manifest) -> Plan:
    """Compute every task's waits from the manifest."""
    plan = Plan(manifest, {t.id: [] for t in manifest.tasks})
    by_id = {t.id: t for t in manifest.tasks}
    for task in manifest.tasks:
        plan.waits[task.id].extend(Wait(dep, "dependsOn") for dep in task.depends_on)
        if task.phase > 0:
            previous = manifest.phases[task.phase - 1].name
            plan.waits[task.id].append(Wait(plan.gate_id(task.phase - 1), "phase", (), previous))
    plan.stack_on = {t.id: list(t.depends_on) for t in manifest.tasks}
    if manifest.same_file == "serialize":
        for phase in manifest.phases:
            _serialize_same_files(plan, _dependency_order(phase.tasks, by_id))
        everything = _dependency_order(tuple(manifest.tasks), by_id)
        index = FileIndex()
        for position, task in enumerate(everything):
            entries = task.files or ("",)
            for earlier in sorted(index.waits_for(entries)):
                if everything[earlier].id not in plan.stack_on[task.id]:
                    plan.stack_on[task.id].append(everything[earlier].id)
            index.add(position, entries)
    return plan


def _dependency_order(tasks: tuple[Task, ...], by_id: dict[str, Task]) -> list[Task]:
    """Manifest order, except that a task comes after what it depends on in its phase.

    Serializing by plain manifest order could point a same-file edge against a dependsOn edge
    and make a cycle; this order cannot.
    """
    members = {t.id for t in tasks}
    pending = {t.id: sum(d in members for d in t.depends_on) for t in tasks}
    dependents: dict[str, list[str]] = {}
    for t in tasks:
        for d in t.depends_on:
            if d in members:
                dependents.setdefault(d, []).append(t.id)
    ready = [(t.index, t.id) for t in tasks if pending[t.id] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, task_id = heapq.heappop(ready)
        order.append(by_id[task_id])
        for nxt in dependents.get(task_id, []):
            pending[nxt] -= 1
            if pending[nxt] == 0:
                heapq.heappush(ready, (by_id[nxt].index, nxt))
    return order


def _serialize_same_files(plan: Plan, ordered: list[Task]) -> None:
    index = FileIndex()
    for position, task in enumerate(ordered):
        entries = task.files or ("",)  # no files listed: it may touch anything
        for earlier, pairs in sorted(index.waits_for(entries).items()):
            plan.waits[task.id].append(_same_file_wait(task.id, ordered[earlier].id, pairs))
        index.add(position, entries)


def _same_file_wait(task_id: str, other: str, pairs: set[tuple[str, str]]) -> Wait:
    files = sorted({f for pair in pairs for f in pair if f} or {"(whole repository)"})
    same = sorted(theirs for theirs, ours in pairs if theirs == ours and theirs)
    if same and len(same) == len(pairs):
        detail = f"both touch {', '.join(same)}"
    else:
        theirs = sorted({t or "the whole repository" for t, _ in pairs})
        ours = sorted({o or "the whole repository" for _, o in pairs})
        detail = f"{task_id} touches {', '.join(ours)}, {other} touches {', '.join(theirs)}"
    return Wait(other, "same-file", tuple(files), detail)
