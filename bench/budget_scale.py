"""What a project `budget:` costs a tick that starts many agents (issue 9, part 8).

Each launch and retry asks `budget.spent`, which adds up every task's usage from the attempts'
signals files (runs/<id>/attempt-N.signals.json). The scenario: `--done` tasks seeded `complete`
with `--attempts` attempts each, every attempt with a signals file that reports tokens and cost,
and `--launch` ready tasks with max_parallel room for all of them. One whole
`python -m doit heartbeat` launches them all (real git worktrees, a private tmux server, agents
that print a line and sleep); the project budget is far from spent, so every launch goes ahead.
The same tick without `budget:` is the baseline: the difference is what the budget costs.

    python bench/budget_scale.py [--done 1000] [--attempts 3] [--launch 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from heartbeat import doit, stop, task, top, write_file  # the same control directory and tmux
from plan_launch import control_dir, machine

from taskorch import budget, signals
from taskorch.project import Project

AGENT = "import time\nprint('bench agent: started', flush=True)\ntime.sleep(86400)\n"
USAGE = signals.Signals(finished=True, input_tokens=1000, output_tokens=100, cost_usd=0.001)


def scenario(done: int, launch: int, argv: list[str], budgeted: bool) -> dict[str, Any]:
    phase = ([task(f"c{i}", status="complete") for i in range(done)]
             + [task(f"r{i}") for i in range(launch)])
    data = top(f"budget-{done}-{launch}", {"bench": argv}, launch, False, [phase])
    if budgeted:
        data["budget"] = {"usd": 1_000_000.0}  # never spent: it is asked, and every launch goes on
    return data


def seed(cwd: Path, done: int, attempts: int) -> Project:
    """The done tasks' history: `attempts` attempts each, each with its signals file."""
    project = Project.load(cwd / "orchestrator.yaml", store=True)
    project.store.update({f"c{i}": {"attempts": attempts} for i in range(done)})
    for i in range(done):
        project.layout.run_dir(f"c{i}").mkdir(parents=True)
        for n in range(1, attempts + 1):  # not signals.save: its fsync made seeding take minutes
            project.layout.signals_file(f"c{i}", n).write_text(USAGE.to_json(), encoding="utf-8")
    return project


def checks(cwd: Path, launch: int) -> float:
    """Seconds of the budget checks alone, in this process: `spent` for each task the tick
    launches, on a fresh Project, as launch.launch asks it."""
    project = Project.load(cwd / "orchestrator.yaml")
    start = time.perf_counter()
    for i in range(launch):
        if budget.spent(project, project.manifest.task(f"r{i}")):
            raise SystemExit("the bench's budget was spent")
    elapsed = time.perf_counter() - start
    project.store.close()
    return elapsed


def one_tick(data: dict[str, Any], done: int, attempts: int,
             launch: int) -> tuple[float, float, float]:
    """(whole process, the tick's own time) of the heartbeat that launches every ready task,
    and the time of its budget checks alone, in this process."""
    with tempfile.TemporaryDirectory(prefix="taskorch-budget-", ignore_cleanup_errors=True) as tmp:
        (Path(tmp) / "control").mkdir()
        cwd = control_dir(Path(tmp) / "control", data)
        project = seed(cwd, done, attempts)
        alone = checks(cwd, launch)
        try:
            wall, out = doit(cwd, "heartbeat")
            launched = sum(": launched attempt 1" in line for line in out.splitlines())
            if launched != launch:
                raise SystemExit(f"the tick launched {launched} of {launch}:\n{out[-3000:]}")
            if "budget" in data and budget.project_usage(project) is None:
                raise SystemExit("the seeded usage was not seen")
            found = re.search(r"\(([\d.]+) s\)$", out.strip().splitlines()[-1])
            return wall, float(found.group(1)) if found else float("nan"), alone
        finally:
            stop(project)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--done", type=int, default=1000, help="tasks with usage recorded")
    parser.add_argument("--attempts", type=int, default=3, help="attempts of each done task")
    parser.add_argument("--launch", type=int, default=50, help="tasks the tick launches")
    parser.add_argument("--repeat", type=int, default=3, help="fresh control directories per row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskorch-budget-agent-") as tmp:
        agent = write_file(Path(tmp) / "agent.py", AGENT)
        argv = [sys.executable, str(agent)]
        rows = {}
        for budgeted in (False, True):
            data = scenario(args.done, args.launch, argv, budgeted)
            rows[budgeted] = [one_tick(data, args.done, args.attempts, args.launch)
                              for _ in range(args.repeat)]
    print(f"One `doit heartbeat` launching {args.launch} tasks; {args.done} tasks done with "
          f"{args.attempts} attempts each ({args.done * args.attempts} signals files). "
          f"Seconds, median (min) of {args.repeat}.")
    print(f"{'':>18} | {'whole process':>15} | {'tick':>15} | {'checks alone':>15}")
    for budgeted, label in ((False, "no budget"), (True, "project budget")):
        wall, own, alone = zip(*rows[budgeted])
        print(f"{label:>18} | {statistics.median(wall):7.2f} ({min(wall):5.2f}) | "
              f"{statistics.median(own):7.2f} ({min(own):5.2f}) | "
              f"{statistics.median(alone):7.3f} ({min(alone):5.3f})")
    extra = (statistics.median(r[1] for r in rows[True])
             - statistics.median(r[1] for r in rows[False]))
    print(f"the budget's cost in the tick: {extra:.2f} s, {extra / args.launch * 1000:.1f} ms "
          f"per launch")
    print(f"\nMachine: {machine()}")
    print(f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")


if __name__ == "__main__":
    main()
