"""Benchmark `doit heartbeat` on live tmux sessions: one tick's wall time at 10 to 200 sessions
and on a 1,000-task manifest, and the tmux calls a tick makes. (Exit-to-dependent latency is
measured by bench/detect_latency.py.)

Each scenario gets its own temporary control directory (dodo.py, prompts/, orchestrator.yaml)
and so its own private tmux server, killed at the end even on errors. Agents are tiny scripted
programs written into the temporary directory; nothing needs a network or an LLM.

    python bench/heartbeat.py [--sessions 10,50,200] [--repeat 7] [--tasks 1000] [--running 50]
                              [--complete 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from plan_launch import control_dir, machine  # the same control directory and machine line

from taskorch.project import Project

DOIT = [sys.executable, "-m", "doit"]  # exactly what the cron line and the hook script run
GOAL_TICK_S = 0.5
NEVER_STALL = 100_000  # minutes
AGENT = """\
import sys, time
for i in range(3):
    print(f"bench agent: line {i}", flush=True)
if sys.argv[1] == "quiet":
    time.sleep(86400)
n = 0
while True:
    time.sleep(0.5)
    n += 1
    print(f"bench agent: tick {n}", flush=True)
"""
SHIM = """\
#!/bin/sh
{{ for a in "$@"; do printf '%s\\037' "$a"; done; printf '\\n'; }} >> {log}
exec {real} "$@"
"""


@dataclass
class Tick:
    """One scenario's heartbeats: process wall times, the ticks' own times, one tick's tmux calls."""

    label: str
    sessions: int
    tasks: int
    wall: list[float]
    own: list[float]
    calls: list[list[str]]


# ---------------------------------------------------------------------------------- manifests

def write_file(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def task(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "title": f"Change {task_id}", "files": [f"src/{task_id}.py"], **extra}


def top(name: str, agents: dict[str, list[str]], max_parallel: int, hook: bool,
        phases: list[list[dict[str, Any]]]) -> dict[str, Any]:
    return {"project": name, "repo": "demo", "agent": next(iter(agents)),
            "agents": {k: {"command": argv} for k, argv in agents.items()},
            "max_parallel": max_parallel, "hook": hook, "stall_minutes": NEVER_STALL,
            "phases": [{"name": f"Phase {i + 1}", "tasks": t} for i, t in enumerate(phases)]}


def flat(n: int, argv: list[str]) -> dict[str, Any]:
    """N independent tasks, all ready at once."""
    return top(f"hb-{n}", {"bench": argv}, n, False, [[task(f"t{i}") for i in range(n)]])


def big(total: int, running: int, complete: int, argv: list[str]) -> dict[str, Any]:
    """`running` ready tasks, `complete` seeded done, half the rest waiting on a running task
    through dependsOn, the other half in phase 2 behind the phase gate."""
    waiting = (total - running - complete) // 2
    later = total - running - complete - waiting
    phase1 = ([task(f"r{i}") for i in range(running)]
              + [task(f"c{i}", status="complete") for i in range(complete)]
              + [task(f"w{i}", dependsOn=[f"r{i % running}"]) for i in range(waiting)])
    phase2 = [task(f"p{i}") for i in range(later)]
    return top(f"hb-big-{total}", {"bench": argv}, running, False, [phase1, phase2])


# --------------------------------------------------------------------------------- processes

def env(path_first: Path | None = None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "TASKORCH_MANIFEST"}
    if path_first is not None:
        out["PATH"] = f"{path_first}{os.pathsep}{out.get('PATH', '')}"
    return out


def doit(cwd: Path, verb: str, path_first: Path | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([*DOIT, *verb.split()], cwd=cwd, env=env(path_first), capture_output=True,
                          text=True, timeout=900)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"doit {verb} failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr}")
    return elapsed, proc.stdout


def own_seconds(stdout: str, running: int) -> float:
    """The tick's own time from its summary line; also checks that the tick changed nothing."""
    summary = [line for line in stdout.splitlines() if line.startswith("heartbeat: ")]
    found = re.search(r"\(([\d.]+) s\)$", summary[-1]) if summary else None
    if not found or f"{running} running" not in summary[-1] or len(stdout.splitlines()) != 1:
        raise SystemExit(f"the heartbeat did something besides observing:\n{stdout[-2000:]}")
    return float(found.group(1))


def alive(project: Project) -> set[str]:
    return {name for name, pane in project.runner.snapshot().items() if not pane.dead}


def wait_alive(project: Project, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(alive(project)) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(alive(project))} of {n} sessions came up")
        time.sleep(0.2)


def stop(project: Project) -> None:
    """Kill the scenario's tmux server and remove its socket file, which tmux 3.3a's kill-server
    leaves behind."""
    project.runner.kill_server()
    flag, name = project.runner.where
    if flag == "-L":
        (Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / name).unlink(
            missing_ok=True)


@contextmanager
def live(data: dict[str, Any], sessions: int) -> Iterator[tuple[Path, Project]]:
    """A control directory with `sessions` agents launched and alive; its tmux server is killed
    and the directory removed on the way out, whatever happened."""
    with tempfile.TemporaryDirectory(prefix="taskorch-hb-", ignore_cleanup_errors=True) as tmp:
        (Path(tmp) / "control").mkdir()
        cwd = control_dir(Path(tmp) / "control", data)
        project = Project.load(cwd / "orchestrator.yaml")
        try:
            doit(cwd, "launch")
            wait_alive(project, sessions)
            yield cwd, project
        finally:
            stop(project)


# ----------------------------------------------------------------------------- tmux call log

def install_shim(folder: Path, real: str) -> tuple[Path, Path]:
    """A `tmux` first on PATH that logs its argv (fields ended by \\x1f) and execs the real one."""
    folder.mkdir(exist_ok=True)
    log = folder / "calls.log"
    write_file(folder / "tmux", SHIM.format(log=shlex.quote(str(log)), real=shlex.quote(real)),
               0o755)
    return folder, log


def read_calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    # split on newlines only: str.splitlines() would also split tmux's \x1e capture marks
    return [line.split("\x1f")[:-1] for line in log.read_text().split("\n") if line]


def subcommands(argv: list[str]) -> list[str]:
    """tmux's commands in one call: skip the global options, split on ';'."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in ("-L", "-S", "-f") else 1
    out, expect = [], True
    for arg in argv[i:]:
        if expect:
            out.append(arg)
        expect = arg == ";"
    return out


def describe(calls: list[list[str]]) -> str:
    kinds: Counter[str] = Counter()
    panes = 0
    for argv in calls:
        cmds = subcommands(argv)
        if "capture-pane" in cmds:
            kinds["capture-pane batch"] += 1
            panes += cmds.count("capture-pane")
        else:
            kinds["+".join(dict.fromkeys(cmds))] += 1
    parts = [f"{kind} x{n}" for kind, n in kinds.items()]
    return ", ".join(parts) + (f" ({panes} panes captured)" if panes else "")


def captured(calls: list[list[str]]) -> int:
    return sum(subcommands(argv).count("capture-pane") for argv in calls)


# --------------------------------------------------------------------------------- scenarios

def measure(label: str, data: dict[str, Any], sessions: int, repeat: int, real_tmux: str) -> Tick:
    """Launch, wait for every session, 2 warm-up ticks, `repeat` timed ticks, one logged tick."""
    tasks = sum(len(p["tasks"]) for p in data["phases"])
    with live(data, sessions) as (cwd, _):
        time.sleep(2)  # tmux's activity clock has 1 s steps: let the start-up output age
        for _ in range(2):
            doit(cwd, "heartbeat")
        wall, own = [], []
        for _ in range(repeat):
            elapsed, out = doit(cwd, "heartbeat")
            wall.append(elapsed)
            own.append(own_seconds(out, sessions))
        shim, log = install_shim(cwd.parent / "shim", real_tmux)
        doit(cwd, "heartbeat", path_first=shim)
        return Tick(label, sessions, tasks, wall, own, read_calls(log))


# ------------------------------------------------------------------------------------ report

def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_ticks(title: str, ticks: list[Tick]) -> None:
    print(title)
    print(f"{'sessions':>8} {'tasks':>6} {'agents':<7} | {'process med':>11} {'min':>6} | "
          f"{'tick med':>8} {'start-up':>8} | {'captured':>8}")
    for t in ticks:
        med, own = statistics.median(t.wall), statistics.median(t.own)
        print(f"{t.sessions:>8} {t.tasks:>6} {t.label:<7} | {med:>11.3f} {min(t.wall):>6.3f} | "
              f"{own:>8.2f} {med - own:>8.2f} | {captured(t.calls):>8}")


def print_calls(ticks: list[Tick]) -> None:
    print("\n3. tmux invocations in one heartbeat tick (a logging `tmux` shim first on PATH)")
    print(f"{'sessions':>8} {'tasks':>6} {'agents':<7} | {'calls':>5} | subcommands")
    for t in ticks:
        print(f"{t.sessions:>8} {t.tasks:>6} {t.label:<7} | {len(t.calls):>5} | {describe(t.calls)}")


def o1_snapshot(ticks: list[Tick]) -> bool:
    """One list-panes per tick, and captures in batches of 100 rather than one per pane."""
    for t in ticks:
        kinds = [subcommands(argv) for argv in t.calls]
        listings = sum(cmds == ["list-panes"] for cmds in kinds)
        batches = sum("capture-pane" in cmds for cmds in kinds)
        if listings != 1 or batches > math.ceil(captured(t.calls) / 100) \
                or len(t.calls) > 1 + batches:
            return False
    return True


def print_goals(ticks: list[Tick], largest: int) -> None:
    at = [t for t in ticks if t.sessions == largest and t.tasks == largest]
    print("\nGoals")
    for t in at:
        med = statistics.median(t.wall)
        print(f"   heartbeat at {largest} live sessions ({t.label} agents) < {GOAL_TICK_S} s: "
              f"{med:.3f} s median -> {met(med < GOAL_TICK_S)}")
    print(f"   O(1) tmux calls for the snapshot (one list-panes per tick, captures in batches of "
          f"100): {met(o1_snapshot(ticks))}")


# -------------------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="10,50,200", help="live sessions, comma-separated")
    parser.add_argument("--repeat", type=int, default=7, help="timed heartbeats after 2 warm-ups")
    parser.add_argument("--tasks", type=int, default=1000, help="manifest size of part 2")
    parser.add_argument("--running", type=int, default=50, help="live sessions of part 2")
    parser.add_argument("--complete", type=int, default=200, help="seeded complete in part 2")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sessions.split(",")]
    real_tmux = shutil.which("tmux")
    if real_tmux is None:
        raise SystemExit("tmux is not installed")

    with tempfile.TemporaryDirectory(prefix="taskorch-hb-agents-") as tmp:
        agent = write_file(Path(tmp) / "agent.py", AGENT)
        ticks = [measure(mode, flat(n, [sys.executable, str(agent), mode]), n, args.repeat,
                         real_tmux) for mode in ("quiet", "chatty") for n in sizes]
        bigs = [measure("quiet", big(args.tasks, args.running, args.complete,
                                     [sys.executable, str(agent), "quiet"]),
                        args.running, args.repeat, real_tmux)]

    print(f"Seconds per whole `python -m doit heartbeat` process: median and min of {args.repeat} "
          f"after 2 warm-ups. 'tick' is the tick's\nown time from its summary line; 'start-up' is "
          f"the rest (interpreter, imports, manifest, doit). 'captured': panes captured per tick.")
    print_ticks("\n1. N live sessions. quiet: agents print 3 lines, then sleep; "
                "chatty: a line every 0.5 s, so every pane moved", ticks)
    print_ticks(f"\n2. A {args.tasks}-task manifest with {args.running} running "
                f"({args.complete} seeded complete, the rest behind dependsOn or in phase 2), "
                f"and {args.running} tasks for comparison",
                bigs + [t for t in ticks if t.sessions == args.running and t.label == "quiet"])
    print_calls(ticks + bigs)
    print_goals(ticks, max(sizes))
    print(f"\nMachine: {machine()}")
    print(f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")


if __name__ == "__main__":
    main()
