"""Simulate runs on virtual time: taskorch's planner, the skill's phase policy, and a lower bound.

Every task succeeds on its first attempt and takes a duration drawn from one distribution; a
launch happens the moment a slot and the gates allow it (the exit hook's heartbeat, ~0.4 s, is
taken as 0). All policies of one manifest share the same drawn durations. Policies:

  taskorch   readiness from the real `Plan.blockers`, ready tasks launched in the real
             `Plan.launch_order()` (priority, longest chain first, then manifest order), as
             `heartbeat.advance` and `doit launch` do
  manifest   the same readiness, launched in plain manifest order (taskorch before it ordered
             by chain length), kept to show what that order is worth
  skill      phase N+1 only when phase N is done; in a phase, dependsOn plus every earlier task of
             the phase that lists a same file; launched in list order
  bound      max(critical path of the real DAG with the drawn durations, total work / slots)

    python bench/simulate.py [--manifests 100] [--tasks 50,500] [--slots 4,16] [--phases 1,5]
        [--dist lognormal] [--median 20] [--sigma 0.6] [--seed 1] [--runs 100] [MANIFEST ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import heapq
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

from taskorch import manifest as manifests
from taskorch import plan as plans
from taskorch.manifest import Manifest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_launch import manifest as generated_manifest  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
EXAMPLES = (FIXTURES / "skill_generic.json", FIXTURES / "skill_security.json")
POLICIES = ("taskorch", "manifest", "skill")
GOAL = 1.15

Durations = dict[str, float]


class SimulationError(Exception):
    """A policy left tasks that can never start (a cycle in its own waits)."""


# ---------------------------------------------------------------------------------------------
# Durations


@dataclass(frozen=True)
class Distribution:
    kind: str      # lognormal | exponential | uniform | fixed
    median: float  # minutes
    sigma: float   # lognormal only

    def draw(self, rng: random.Random) -> float:
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.median), self.sigma)
        if self.kind == "exponential":
            return rng.expovariate(math.log(2) / self.median)
        if self.kind == "uniform":
            return rng.uniform(0.5 * self.median, 1.5 * self.median)
        return self.median

    @property
    def mean(self) -> float:
        """The expected duration: what a planner that cannot see the future would assume."""
        if self.kind == "lognormal":
            return self.median * math.exp(self.sigma ** 2 / 2)
        if self.kind == "exponential":
            return self.median / math.log(2)
        return self.median


def draw_all(m: Manifest, dist: Distribution, rng: random.Random) -> Durations:
    return {t.id: dist.draw(rng) for t in m.tasks}


# ---------------------------------------------------------------------------------------------
# Longest paths on the real DAG


def longest_paths(edges: Iterable[tuple[str, str]], weight: dict[str, float]) -> dict[str, float]:
    """For each node, the heaviest path that ends at it, itself included; `edges` are
    (later, earlier) pairs and nodes missing from `weight` (phase gates) weigh 0."""
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    nodes = set(weight)
    for later, earlier in edges:
        preds.setdefault(later, []).append(earlier)
        succs.setdefault(earlier, []).append(later)
        nodes.update((later, earlier))
    left = {n: len(preds.get(n, ())) for n in nodes}
    queue = [n for n in nodes if left[n] == 0]
    best: dict[str, float] = {}
    while queue:
        node = queue.pop()
        longest_before = max((best[p] for p in preds.get(node, ())), default=0.0)
        best[node] = weight.get(node, 0.0) + longest_before
        for nxt in succs.get(node, ()):
            left[nxt] -= 1
            if left[nxt] == 0:
                queue.append(nxt)
    if len(best) != len(nodes):
        raise SimulationError("the plan's graph has a cycle")
    return best


def plan_edges(plan: plans.Plan) -> list[tuple[str, str]]:
    return [(waiter, waited) for waiter, waited, _ in plan.edges()]


def critical_path(plan: plans.Plan, durations: Durations) -> float:
    return max(longest_paths(plan_edges(plan), durations).values(), default=0.0)


# ---------------------------------------------------------------------------------------------
# Readiness: which tasks may start, as tasks finish


class Readiness(Protocol):
    def start(self) -> list[str]: ...
    def finish(self, done: list[str]) -> list[str]: ...
    def left(self) -> int: ...


class TaskorchReadiness:
    """Asks the real `Plan.blockers` whether a task may start. A task is asked again only when
    something it waits for (a task, or its phase gate) finished; that is exact, as `blockers`
    reads nothing else, and keeps a 500-task run from asking 500 x 500 times."""

    def __init__(self, plan: plans.Plan):
        self.plan = plan
        self.status = {t.id: "pending" for t in plan.tasks}
        # Finished work: `complete`, or `merged` under `gate: merged` (merging taken as instant).
        self.done_state = "complete" if "complete" in plan.done else "merged"
        self.waiters: dict[str, list[str]] = {}
        for waiter, waited, _ in plan.edges():
            self.waiters.setdefault(waited, []).append(waiter)
        self.phase_of = {t.id: t.phase for t in plan.tasks}

    def start(self) -> list[str]:
        return self._ready([t.id for t in self.plan.tasks])

    def finish(self, done: list[str]) -> list[str]:
        for task_id in done:
            self.status[task_id] = self.done_state
        unfinished = self.plan.unfinished(self.status)
        asked: list[str] = []
        for task_id in done:
            asked += self.waiters.get(task_id, [])
            gate = self.plan.gate_id(self.phase_of[task_id])
            if not unfinished[gate]:
                asked += self.waiters.get(gate, [])
        return self._ready(list(dict.fromkeys(asked)), unfinished)

    def _ready(self, asked: list[str], unfinished: dict[str, list[str]] | None = None) -> list[str]:
        unfinished = unfinished or self.plan.unfinished(self.status)
        out = [t for t in asked if self.status.get(t) == "pending"
               and not self.plan.blockers(t, self.status, unfinished)]
        for task_id in out:
            self.status[task_id] = "ready"
        return out

    def left(self) -> int:
        return sum(s != self.done_state for s in self.status.values())


class SkillReadiness:
    """The skill's rules: phases one after another; in a phase, dependsOn plus every earlier
    task of the phase listing a same file (exact `files` strings)."""

    def __init__(self, m: Manifest):
        self.phases = [[t.id for t in phase.tasks] for phase in m.phases]
        self.phase_of = {t.id: t.phase for t in m.tasks}
        self.waits: dict[str, set[str]] = {}
        for phase in m.phases:
            seen: dict[str, list[str]] = {}
            for task in phase.tasks:
                self.waits[task.id] = set(task.depends_on)
                for f in task.files:
                    self.waits[task.id].update(seen.get(f, []))
                    seen.setdefault(f, []).append(task.id)
        self.done: set[str] = set()
        self.open = 0  # the phase whose tasks may start
        self.released: set[str] = set()

    def start(self) -> list[str]:
        return self._release(self.phases[0] if self.phases else [])

    def finish(self, done: list[str]) -> list[str]:
        self.done.update(done)
        out: list[str] = []
        while self.open < len(self.phases) - 1 and self.done.issuperset(self.phases[self.open]):
            self.open += 1
            out += self.phases[self.open]
        out += self.phases[self.open] if self.phases else []
        return self._release(list(dict.fromkeys(out)))

    def _release(self, candidates: list[str]) -> list[str]:
        out = [t for t in candidates if t not in self.released
               and self.phase_of[t] <= self.open and self.waits[t] <= self.done]
        self.released.update(out)
        return out

    def left(self) -> int:
        return len(self.phase_of) - len(self.done)


# ---------------------------------------------------------------------------------------------
# The event loop


def with_bound(row: dict[str, float]) -> dict[str, float]:
    return {**row, "bound": max(row["path"], row["work"])}


def simulate(ready: Readiness, key: Callable[[str], tuple], durations: Durations,
             slots: int, starts: dict[str, float] | None = None) -> float:
    """Makespan in minutes: launch by `key` while slots are free, jump to the next exit. Each
    task's start time goes into `starts`, when given."""
    queue = [(key(t), t) for t in ready.start()]
    heapq.heapify(queue)
    running: list[tuple[float, str]] = []
    clock = 0.0
    while queue or running:
        while queue and len(running) < slots:
            task_id = heapq.heappop(queue)[1]
            if starts is not None:
                starts[task_id] = clock
            heapq.heappush(running, (clock + durations[task_id], task_id))
        if not running:
            break
        clock, first = heapq.heappop(running)
        done = [first]
        while running and running[0][0] == clock:  # exits at the same instant: one heartbeat
            done.append(heapq.heappop(running)[1])
        for task_id in ready.finish(done):
            heapq.heappush(queue, (key(task_id), task_id))
    if ready.left():
        raise SimulationError(f"{type(ready).__name__}: {ready.left()} tasks can never start "
                              "(their waits form a cycle)")
    return clock


def makespans(m: Manifest, durations: Durations, slots: int, expected: float) -> dict[str, float]:
    """Each policy's makespan and the lower bound's two terms, for one draw of durations."""
    plan = plans.build(m)
    index = {t.id: t.index for t in m.tasks}
    order = {task_id: n for n, task_id in enumerate(plan.launch_order())}  # the real order
    return {
        "taskorch": simulate(TaskorchReadiness(plan), lambda t: (order[t],), durations, slots),
        "manifest": simulate(TaskorchReadiness(plan), lambda t: (index[t],), durations, slots),
        "skill": simulate(SkillReadiness(m), lambda t: (index[t],), durations, slots),
        "path": critical_path(plan, durations),
        "work": sum(durations.values()) / slots,
    }


# ---------------------------------------------------------------------------------------------
# Manifests and reports


def random_manifest(i: int, args: argparse.Namespace) -> tuple[Manifest, int]:
    """bench/plan_launch.py's generator (Zipf-hot files, 0-2 dependsOn on earlier tasks) with a
    random size, phase count and max_parallel; its seeded `status: running` is dropped."""
    rng = random.Random(f"{args.seed}:manifest:{i}")
    n, slots, phases = rng.randint(*args.tasks), rng.randint(*args.slots), rng.randint(*args.phases)
    data = generated_manifest(n, phases, args.seed * 1000 + i)
    for phase in data["phases"]:
        for task in phase["tasks"]:
            task.pop("status", None)
    data["max_parallel"] = slots
    path = Path(f"generated-{i}.yaml")
    return manifests.load_text(json.dumps(data), path), slots


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report(title: str, rows: list[dict[str, float]]) -> None:
    print(title)
    print(f"  {'policy':<9} | {'ratio med':>9} {'p90':>6} {'max':>6} | {'makespan med h':>14} "
          f"| {'> ' + str(GOAL):>6}")
    for policy in (*POLICIES, "bound"):
        ratios = [r[policy] / r["bound"] if r["bound"] else 1.0 for r in rows]
        hours = statistics.median(r[policy] for r in rows) / 60
        over = sum(x > GOAL for x in ratios)
        print(f"  {policy:<9} | {statistics.median(ratios):>9.3f} {pct(ratios, 0.9):>6.3f} "
              f"{max(ratios):>6.3f} | {hours:>14.1f} | {over:>3}/{len(rows)}")


def binding(rows: list[dict[str, float]]) -> None:
    by_path = sum(r["path"] >= r["work"] for r in rows)
    spread = statistics.median(r["path"] / r["work"] for r in rows)
    print(f"  bound = critical path in {by_path} of {len(rows)}, total work / slots in the rest; "
          f"critical path / (work / slots): median {spread:.2f}")


def compare(rows: list[dict[str, float]], policy: str, other: str) -> None:
    shorter = sum(r[policy] < r[other] - 1e-9 for r in rows)
    longer = sum(r[policy] > r[other] + 1e-9 for r in rows)
    print(f"  {policy} vs {other}: shorter in {shorter}, longer in {longer}, equal in "
          f"{len(rows) - shorter - longer}")


def with_priorities(m: Manifest, share: float, rng: random.Random) -> Manifest:
    """`m` with a `share` of its tasks marked `priority: high`, drawn by `rng`."""
    tasks = {t.id for t in m.tasks if rng.random() < share}
    phases = tuple(dataclasses.replace(phase, tasks=tuple(
        dataclasses.replace(t, priority="high") if t.id in tasks else t for t in phase.tasks))
        for phase in m.phases)
    return dataclasses.replace(m, phases=phases)


def priority_runs(args: argparse.Namespace, dist: Distribution, share: float = 0.1) -> None:
    """What `priority: high` buys (issue 13): the same manifests and durations, a tenth of the
    tasks marked high, launched by the real launch order with and without their priority. Run
    with scarce slots (2 to 4): with slots to spare, every ready task starts at once anyway."""
    early, late, costs = [], [], []
    scarce = argparse.Namespace(**{**vars(args), "slots": (2, 4)})
    for i in range(args.manifests):
        m, slots = random_manifest(i, scarce)
        marked = with_priorities(m, share, random.Random(f"{args.seed}:priority:{i}"))
        high = [t.id for t in marked.tasks if t.priority == "high"]
        if not high:
            continue
        durations = draw_all(m, dist, random.Random(f"{args.seed}:durations:{i}"))
        spans, starts = [], []
        for each in (m, marked):
            plan, when = plans.build(each), {}
            order = {task_id: n for n, task_id in enumerate(plan.launch_order())}
            spans.append(simulate(TaskorchReadiness(plan), lambda t: (order[t],), durations,
                                  slots, when))
            starts.append(statistics.median(when[t] for t in high) / spans[-1])
        late.append(starts[0])
        early.append(starts[1])
        costs.append(spans[1] / spans[0])
    flat = manifests.load_text(json.dumps({"repo": "demo", "phases": [{"tasks": [
        {"id": f"t{n}", "files": [f"f{n}"]} for n in range(200)]}]}), Path("flat.yaml"))
    marked = with_priorities(flat, share, random.Random(f"{args.seed}:priority:flat"))
    high = [t.id for t in marked.tasks if t.priority == "high"]
    durations = draw_all(flat, dist, random.Random(f"{args.seed}:durations:flat"))
    flat_starts = []
    for each in (flat, marked):
        plan, when = plans.build(each), {}
        order = {task_id: n for n, task_id in enumerate(plan.launch_order())}
        span = simulate(TaskorchReadiness(plan), lambda t: (order[t],), durations, 4, when)
        flat_starts.append(statistics.median(when[t] for t in high) / span)
    print(f"\npriority: high on {len(high)} of 200 independent tasks, max_parallel 4: their "
          f"median start, as a share of the run, {flat_starts[0]:.2f} without their priority, "
          f"{flat_starts[1]:.2f} with it")
    print(f"priority: high on {share:.0%} of the tasks of {len(costs)} generated manifests, "
          "max_parallel 2-4: "
          f"their median start, as a share of the run, {statistics.median(late):.2f} without "
          f"their priority, {statistics.median(early):.2f} with it; the makespan x"
          f"{statistics.median(costs):.3f} (median; p90 x{pct(costs, 0.9):.3f}, max "
          f"x{max(costs):.3f})")


def random_runs(args: argparse.Namespace, dist: Distribution) -> None:
    rows, sizes = [], []
    for i in range(args.manifests):
        m, slots = random_manifest(i, args)
        durations = draw_all(m, dist, random.Random(f"{args.seed}:durations:{i}"))
        rows.append(with_bound(makespans(m, durations, slots, dist.mean)))
        sizes.append((len(m.tasks), slots, len(m.phases)))
    report(f"{args.manifests} generated manifests ({min(s[0] for s in sizes)}-"
           f"{max(s[0] for s in sizes)} tasks, max_parallel {min(s[1] for s in sizes)}-"
           f"{max(s[1] for s in sizes)}, {min(s[2] for s in sizes)}-{max(s[2] for s in sizes)} "
           "phases), one draw of durations each:", rows)
    binding(rows)
    compare(rows, "taskorch", "manifest")
    compare(rows, "skill", "taskorch")
    goal = statistics.median(r["taskorch"] / r["bound"] for r in rows)
    print(f"  goal: taskorch median ratio {goal:.3f} {'<=' if goal <= GOAL else '>'} {GOAL} -> "
          f"{'met' if goal <= GOAL else 'MISSED'}")


def example_runs(paths: list[Path], args: argparse.Namespace, dist: Distribution) -> None:
    for path in paths:
        m = manifests.load(path)
        slots = args.example_slots or m.max_parallel
        draws = (draw_all(m, dist, random.Random(f"{args.seed}:{path.name}:{r}"))
                 for r in range(args.runs))
        rows = [with_bound(makespans(m, durations, slots, dist.mean)) for durations in draws]
        report(f"\n{path.name}: {len(m.tasks)} tasks, {len(m.phases)} phases, max_parallel "
               f"{slots}, {args.runs} draws of durations:", rows)


def machine() -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=FIXTURES).stdout.strip()
    return (f"{platform.node() or 'host'}: {os.cpu_count()} CPUs, {platform.platform()}, "
            f"Python {platform.python_version()}, commit {commit or '?'}")


def span(text: str) -> tuple[int, int]:
    low, high = (int(x) for x in text.split(","))
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"{text!r}: give LOW,HIGH with 1 <= LOW <= HIGH")
    return low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", nargs="*", type=Path,
                        help="manifests to simulate instead of the skill's two examples")
    parser.add_argument("--manifests", type=int, default=100, help="generated manifests (0: none)")
    parser.add_argument("--tasks", type=span, default=(50, 500), help="LOW,HIGH tasks each")
    parser.add_argument("--slots", type=span, default=(4, 16), help="LOW,HIGH max_parallel")
    parser.add_argument("--phases", type=span, default=(1, 5), help="LOW,HIGH phases")
    parser.add_argument("--dist", default="lognormal",
                        choices=("lognormal", "exponential", "uniform", "fixed"))
    parser.add_argument("--median", type=float, default=20.0, help="median duration, minutes")
    parser.add_argument("--sigma", type=float, default=0.6, help="lognormal sigma")
    parser.add_argument("--runs", type=int, default=100, help="draws per given/example manifest")
    parser.add_argument("--example-slots", type=int, default=0,
                        help="max_parallel for given manifests (default: their own)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    dist = Distribution(args.dist, args.median, args.sigma)
    print(f"Durations: {dist.kind}, median {dist.median:g} min"
          f"{f', sigma {dist.sigma:g}' if dist.kind == 'lognormal' else ''} "
          f"(mean {dist.mean:.1f} min); seed {args.seed}\n")
    try:
        if args.manifests:
            random_runs(args, dist)
            priority_runs(args, dist)
        example_runs(args.manifest or list(EXAMPLES), args, dist)
    except (SimulationError, manifests.ManifestError) as exc:
        parser.exit(1, f"simulate: {exc}\n")
    print(f"\nMachine: {machine()}")
    print(f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")


if __name__ == "__main__":
    main()
