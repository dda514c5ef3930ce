"""What a manifest's size costs `doit status` and `doit heartbeat` when nothing runs (issue 10).

Each size gets fresh temporary control directories (dodo.py and prompts/ from the project root,
a generated orchestrator.yaml with `repo: demo`, `hook: false`). The manifest holds 5 phases;
each task lists 1-3 files from a Zipf-skewed pool (so same-file chains form) and 0-2 dependsOn
on earlier tasks. Nothing runs: the first task of phase 1 is `stuck` with no session (a person
decides), every other task of phase 1 depends on it, and phases 2-5 wait behind phase 1's gate.
So a heartbeat has nothing to watch, start or deliver: what it costs is what the manifest costs.

`cold` is the first run in a fresh control directory (it seeds the state store; with the plan
cache it also compiles and stores the plan); `warm` is the median of the runs after it.

    python bench/manifest_scale.py [--sizes 1000,20000] [--big] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import workload  # bench/workload.py: the shared synthetic backlog

ROOT = Path(__file__).resolve().parent.parent
PHASES = 5


def manifest(n: int, seed: int = 1) -> dict[str, Any]:
    """The shared backlog (workload.py) with nothing to run: t1 is stuck with no session, the
    rest of phase 1 waits for it, and phases 2-5 wait behind phase 1's gate."""
    phases = []
    for p, tasks in enumerate(workload.phases(n, PHASES, seed, window=200)):
        for i, task in enumerate(tasks):
            deps = task.pop("dependsOn", [])
            if p == 0 and i == 0:
                task["status"] = "stuck"  # no session: a person decides
                deps = []
            elif p == 0 and "t1" not in deps:
                deps.append("t1")
            if deps:
                task["dependsOn"] = deps
        phases.append({"name": f"Phase {p + 1}", "tasks": tasks})
    return {"project": f"scale-{n}", "repo": "demo", "agent": "demo", "max_parallel": 10,
            "hook": False, "phases": phases}


def control_dir(parent: Path, text: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dodo.py", parent / "dodo.py")
    shutil.copytree(ROOT / "prompts", parent / "prompts")
    (parent / "orchestrator.yaml").write_text(text, encoding="utf-8")
    return parent


def run_doit(cwd: Path, verb: str) -> float:
    """Seconds of one whole `python -m doit VERB`, run in the control directory."""
    env = {k: v for k, v in os.environ.items() if k != "TASKORCH_MANIFEST"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "doit", verb], cwd=cwd, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"doit {verb} failed in {cwd}:\n{proc.stderr[-3000:]}")
    if verb == "heartbeat" and "started" in proc.stdout:
        raise SystemExit(f"heartbeat was not idle in {cwd}:\n{proc.stdout[-2000:]}")
    return elapsed


def measure(n: int, repeat: int) -> dict[str, Any]:
    text = yaml.dump(manifest(n), Dumper=yaml.CSafeDumper, sort_keys=False, width=200)
    out: dict[str, Any] = {"n": n, "bytes": len(text.encode())}
    with tempfile.TemporaryDirectory(prefix=f"taskorch-scale-{n}-") as tmp:
        for verb in ("status", "heartbeat"):
            cwd = control_dir(Path(tmp) / verb, text)
            cold = run_doit(cwd, verb)
            warm = [run_doit(cwd, verb) for _ in range(repeat)]
            out[verb] = {"cold": cold, "warm": statistics.median(warm), "min": min(warm)}
        out["parts"] = in_process(Path(tmp) / "status", repeat)
    return out


def in_process(cwd: Path, repeat: int) -> dict[str, float]:
    """Where a warm run's time goes, in this process (median of `repeat`)."""
    from doit.loader import load_tasks

    from taskorch import dodo, manifest as manifests, plan as plans, yamlsource
    from taskorch.commands import status
    from taskorch.project import Project

    path = cwd / "orchestrator.yaml"
    text = path.read_text(encoding="utf-8")
    here = os.getcwd()
    os.chdir(cwd)
    argv = sys.argv
    try:
        parts: dict[str, list[float]] = {}

        def clock(name: str, fn):
            start = time.perf_counter()
            result = fn()
            parts.setdefault(name, []).append(time.perf_counter() - start)
            return result

        for _ in range(repeat):
            clock("yaml parse", lambda: yamlsource.parse(text, "orchestrator.yaml"))
            m = clock("manifest.load (parse+validate)", lambda: manifests.load(path))
            clock("plan.build", lambda: plans.build(m))
            project = clock("Project.load", lambda: Project.load(path))
            clock("store open+seed", lambda: project.store)
            clock("views (every task)", project.views)
            statuses = project.store.statuses()
            quiet = status.quiet_ids(project, statuses, everything=False)
            ids = project.task_ids - quiet.keys()
            listed = clock("views (listed tasks)", lambda: project.views(
                project.store.rows_of(ids), only=ids, statuses=statuses))
            clock("status table", lambda: status.as_table(project, listed, quiet))
            sys.argv = ["doit", "status"]
            ns = clock("dodo namespace", lambda: dodo.namespace(str(cwd / "dodo.py")))
            clock("doit load_tasks (status)", lambda: load_tasks(ns))
            sys.argv = ["doit", "launch"]
            ns = dodo.namespace(str(cwd / "dodo.py"))
            clock("doit load_tasks (launch)", lambda: load_tasks(ns))
            project.store.close()
        return {k: statistics.median(v) for k, v in parts.items()}
    finally:
        sys.argv = argv
        os.chdir(here)


def profile(n: int, verb: str) -> str:
    """cProfile of one warm `doit VERB` run, in process: the top of the cumulative list."""
    from doit.doit_cmd import DoitMain
    from doit.cmd_base import ModuleTaskLoader

    text = yaml.dump(manifest(n), Dumper=yaml.CSafeDumper, sort_keys=False, width=200)
    with tempfile.TemporaryDirectory(prefix=f"taskorch-profile-{n}-") as tmp:
        cwd = control_dir(Path(tmp), text)
        run_doit(cwd, verb)
        here, argv, stdout = os.getcwd(), sys.argv, sys.stdout
        os.chdir(cwd)
        try:
            sys.argv = ["doit", verb]
            from doit import loader
            module = loader.get_module(str(cwd / "dodo.py"))
            sys.stdout = io.StringIO()
            prof = cProfile.Profile()
            prof.enable()
            DoitMain(ModuleTaskLoader(module)).run([verb])
            prof.disable()
        finally:
            sys.stdout, sys.argv = stdout, argv
            os.chdir(here)
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
        return buf.getvalue()


def machine() -> str:
    import doit
    return (f"{platform.node() or 'host'}: {os.cpu_count()} CPUs, {platform.platform()}, "
            f"Python {platform.python_version()}, doit {'.'.join(map(str, doit.__version__))}, "
            f"PyYAML {yaml.__version__} (libyaml {'yes' if yaml.__with_libyaml__ else 'no'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000", help="task counts, comma-separated")
    parser.add_argument("--big", action="store_true", help="also 100,000 tasks (minutes, ~1 GB)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs after the cold one")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print a cProfile of a warm `doit status` at N tasks")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([100_000] if args.big else [])

    results = [measure(n, args.repeat) for n in sizes]
    print("Whole `python -m doit VERB` processes, nothing running. cold: first run in a fresh "
          f"control directory; warm: median (min) of {args.repeat} after it. Seconds.")
    print(f"{'tasks':>7} {'yaml KB':>8} | {'status cold':>11} {'warm':>6} {'(min)':>7} | "
          f"{'heartbeat cold':>14} {'warm':>6} {'(min)':>7}")
    for r in results:
        s, h = r["status"], r["heartbeat"]
        print(f"{r['n']:>7} {r['bytes'] / 1024:>8.0f} | {s['cold']:>11.3f} {s['warm']:>6.3f} "
              f"({s['min']:.3f}) | {h['cold']:>14.3f} {h['warm']:>6.3f} ({h['min']:.3f})")
    base = results[0]
    for r in results[1:]:
        for verb in ("status", "heartbeat"):
            ratio = r[verb]["warm"] / base[verb]["warm"]
            ok = ratio <= 2.5 and r[verb]["warm"] <= 1.0
            print(f"   {verb} warm {r['n']}/{base['n']}: x{ratio:.2f} ({r[verb]['warm']:.3f} s); "
                  f"goal <= x2.5 and <= 1 s: {'met' if ok else 'NOT met'}")
    print(f"\nIn process, warm, seconds (median of {args.repeat})")
    names = list(results[0]["parts"])
    print(f"{'part':<34}" + "".join(f"{r['n']:>10}" for r in results))
    for name in names:
        print(f"{name:<34}" + "".join(f"{r['parts'][name]:>10.3f}" for r in results))
    if args.profile:
        print(f"\ncProfile of a warm `doit status` at {args.profile} tasks (in process)")
        print(profile(args.profile, "status"))
    print(f"Machine: {machine()}")
    print(f"Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")


if __name__ == "__main__":
    main()
