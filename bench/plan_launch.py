"""Benchmark `doit plan` and an idle `doit launch` on generated manifests of 100 to 5000 tasks.

Each size gets its own temporary control directory (dodo.py, prompts/, orchestrator.yaml). The
launch is idle without tmux or git: the first 10 tasks of phase 1 are seeded `status: running`,
which takes every max_parallel slot, so launch only re-checks gates and starts nothing.

    python bench/plan_launch.py [--sizes 100,1000,5000] [--repeat 5] [--seed 1] [--phases 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import yaml

import workload  # bench/workload.py: the shared synthetic backlog

ROOT = Path(__file__).resolve().parent.parent  # /work/main: dodo.py and prompts/ come from here
MAX_PARALLEL = 10


def manifest(n: int, phases: int, seed: int) -> dict[str, Any]:
    """The shared backlog (workload.py); the first MAX_PARALLEL tasks run, so launch has
    nothing to start and plan and launch cost what the manifest costs."""
    out = []
    for p, tasks in enumerate(workload.phases(n, phases, seed)):
        for i, task in enumerate(tasks):
            if p == 0 and i < MAX_PARALLEL:
                task.pop("dependsOn", None)
                task["status"] = "running"  # takes a slot: launch has nothing to start
        out.append({"name": f"Phase {p + 1}", "tasks": tasks})
    return {"project": f"bench-{n}", "repo": "demo", "agent": "demo",
            "max_parallel": MAX_PARALLEL, "phases": out}


def control_dir(parent: Path, data: dict[str, Any]) -> Path:
    shutil.copy(ROOT / "dodo.py", parent / "dodo.py")
    shutil.copytree(ROOT / "prompts", parent / "prompts")
    text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, width=200)
    (parent / "orchestrator.yaml").write_text(text, encoding="utf-8")
    return parent


def run_doit(cwd: Path, verb: str) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if k != "TASKORCH_MANIFEST"}
    out = subprocess.DEVNULL if verb == "plan" else subprocess.PIPE
    start = time.perf_counter()
    proc = subprocess.run(["doit", verb], cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE,
                          text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"doit {verb} failed in {cwd}:\n{proc.stderr}")
    if verb == "launch" and "started 0" not in proc.stdout:
        raise SystemExit(f"doit launch was not idle in {cwd}:\n{proc.stdout[-2000:]}")
    return elapsed, proc.stdout or ""


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def in_process(path: Path, repeat: int) -> dict[str, float]:
    from taskorch import manifest as manifests, plan as plans

    load_t, m = timed(lambda: manifests.load(path), repeat)
    build_t, plan = timed(lambda: plans.build(m), repeat)
    waves_t, _ = timed(plan.waves, repeat)
    return {"load": statistics.median(load_t), "build": statistics.median(build_t),
            "waves": statistics.median(waves_t)}


def machine() -> str:
    doit = subprocess.run(["doit", "--version"], capture_output=True, text=True).stdout.split()
    return (f"{platform.node() or 'host'}: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
            f"{platform.platform()}, Python {platform.python_version()}, "
            f"doit {doit[0] if doit else '?'}, PyYAML {yaml.__version__} "
            f"(libyaml {'yes' if yaml.__with_libyaml__ else 'no'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="task counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after one warm-up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phases", type=int, default=5, choices=range(3, 11), metavar="3..10")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    rows: list[tuple[int, list[float], list[float], dict[str, float]]] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"taskorch-bench-{n}-") as tmp:
            cwd = control_dir(Path(tmp), manifest(n, args.phases, args.seed))
            plan_t, _ = timed(lambda: run_doit(cwd, "plan")[0], args.repeat)
            launch_t, _ = timed(lambda: run_doit(cwd, "launch")[0], args.repeat)
            rows.append((n, plan_t, launch_t, in_process(cwd / "orchestrator.yaml", args.repeat)))

    n0 = rows[0][0]
    print(f"Whole processes, seconds (median and min of {args.repeat} after 1 warm-up). "
          f"x{n0}: median / median at {n0} tasks (linear: N/{n0}); xprev: / previous size")
    print(f"{'tasks':>6} {'N/' + str(n0):>5} | {'plan med':>8} {'min':>6} {'s/1k':>6} "
          f"{'x' + str(n0):>5} {'xprev':>5} | {'launch med':>10} {'min':>6} {'s/1k':>6} "
          f"{'x' + str(n0):>5} {'xprev':>5}")
    meds = [(statistics.median(p), statistics.median(la)) for _, p, la, _ in rows]
    for i, (n, plan_t, launch_t, _) in enumerate(rows):
        cells = []
        for k, times in enumerate((plan_t, launch_t)):
            med = meds[i][k]
            cells.append(f"{med:>{8 + 2 * k}.3f} {min(times):>6.3f} {med * 1000 / n:>6.3f} "
                         f"{med / meds[0][k]:>5.1f} {med / meds[max(i - 1, 0)][k]:>5.1f}")
        print(f"{n:>6} {n / n0:>5.0f} | {cells[0]} | {cells[1]}")
    print(f"\nIn process, seconds (median of {args.repeat})")
    print(f"{'tasks':>6} | {'load':>7} {'build':>7} {'waves':>7} {'sum':>7} {'s/1k':>6}")
    for n, _, _, parts in rows:
        total = sum(parts.values())
        print(f"{n:>6} | {parts['load']:>7.3f} {parts['build']:>7.3f} {parts['waves']:>7.3f} "
              f"{total:>7.3f} {total * 1000 / n:>6.3f}")
    print(f"\nMachine: {machine()}")
    print(f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")


if __name__ == "__main__":
    main()
