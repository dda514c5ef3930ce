"""Benchmark taskorch's whole `doit heartbeat` against the task-orchestrator skill's own check
script (bench/skill_baseline/check_progress.sh) on the same live, chatty tmux sessions.

For each N, one temporary control directory with N tasks whose scripted agents print a line every
0.5 s (every pane moved: the realistic case), launched with `doit launch` (hook: false), and a
skill-format manifest.json for the same tasks. The two then run alternately (skill, taskorch,
skill, ...), 2 warm-ups and `--repeat` timed runs each, each one a whole process; a last run of
each with a logging `tmux` shim first on PATH counts the processes it started. Every tmux server
is killed and every temporary file removed, even on errors.

    python bench/heartbeat_vs_skill.py [--sessions 10,50,200] [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heartbeat import (AGENT, doit, env, flat, install_shim, live, machine, own_seconds,
                       read_calls, subcommands, write_file)

from taskorch.project import Project

SCRIPT = Path(__file__).resolve().parent / "skill_baseline" / "check_progress.sh"
GOAL_RATIO = 3.0
WARMUPS = 2
OTHERS = ("grep", "jq", "mv", "git")  # the other programs a run may start, counted by shims
COUNT_SHIM = """\
#!/bin/sh
echo {name} >> {log}
exec {real} "$@"
"""
VERDICT = {"DONE": "complete", "ERROR": "error", "STUCK": "stuck", "RUNNING": "running"}


@dataclass
class Side:
    """One contender at one N: wall times, and the processes its logged run started."""

    wall: list[float]
    tmux: list[list[str]]
    others: Counter[str]


@dataclass
class Row:
    sessions: int
    skill: Side
    taskorch: Side
    verdicts: Counter[str]


# ------------------------------------------------------------------------------- the manifest

def skill_manifest(path: Path, data: dict[str, Any], cwd: Path, project: Project) -> Path:
    """The same tasks in the skill's manifest.json format, as its orchestrator would hold them
    once every task is launched."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    workdir = cwd / ".orchestrator"

    def entry(task: dict[str, Any], issue: int) -> dict[str, Any]:
        return {"id": task["id"], "issue": issue, "title": task["title"], "files": task["files"],
                "dependsOn": [], "status": "running",
                "worktree": str(workdir / "worktrees" / task["id"]),
                "tmuxSession": f"task-{task['id']}", "startedAt": now, "lastProgress": now,
                "completedAt": None, "prNumber": None}

    issue = itertools.count(1)
    doc = {"project": data["project"], "repo": "OWNER/REPO", "workdir": str(workdir),
           "socket": str(project.runner.socket_file), "created": now, "model": "gpt-5.2-codex",
           "modelTier": "high",
           "phases": [{"name": p["name"], "tasks": [entry(t, next(issue)) for t in p["tasks"]]}
                      for p in data["phases"]]}
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def statuses(manifest: Path) -> Counter[str]:
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    return Counter(t["status"] for p in doc["phases"] for t in p["tasks"])


# ---------------------------------------------------------------------------------- the runs

def skill(socket: Path, manifest: Path, sessions: int,
          path_first: Path | None = None) -> tuple[float, Counter[str]]:
    """One whole `bash check_progress.sh` process: its wall time and its verdicts, checked to
    cover every session and to match what it wrote into the manifest."""
    start = time.perf_counter()
    proc = subprocess.run(["bash", str(SCRIPT), str(socket), str(manifest)],
                          env=env(path_first), capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    lines = proc.stdout.splitlines()
    verdicts = Counter(VERDICT.get(line.split(":")[0], "?") for line in lines)
    if proc.returncode != 0 or proc.stderr or len(lines) != sessions \
            or statuses(manifest) != verdicts:
        raise SystemExit(f"check_progress.sh failed (exit {proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, verdicts


def taskorch(cwd: Path, sessions: int, path_first: Path | None = None) -> float:
    """One whole `python -m doit heartbeat` process, checked to have only observed."""
    elapsed, out = doit(cwd, "heartbeat", path_first)
    own_seconds(out, sessions)
    return elapsed


def shims(folder: Path, real_tmux: str) -> tuple[Path, Path, Path]:
    """The logging `tmux` shim of bench/heartbeat.py, plus counting shims for OTHERS."""
    folder, calls = install_shim(folder, real_tmux)
    others = folder / "others.log"
    for name in OTHERS:
        real = shutil.which(name)
        if real:
            write_file(folder / name, COUNT_SHIM.format(name=name, log=shlex.quote(str(others)),
                                                        real=shlex.quote(real)), 0o755)
    return folder, calls, others


def counted(log: Path) -> Counter[str]:
    return Counter(log.read_text().split()) if log.exists() else Counter()


def measure(n: int, repeat: int, agent: Path, real_tmux: str) -> Row:
    data = flat(n, [sys.executable, str(agent), "chatty"])
    with live(data, n) as (cwd, project):
        socket = project.runner.socket_file
        manifest = skill_manifest(cwd.parent / "manifest.json", data, cwd, project)
        time.sleep(2)  # tmux's activity clock has 1 s steps: let the start-up output age
        for _ in range(WARMUPS):
            skill(socket, manifest, n)
            taskorch(cwd, n)
        walls: tuple[list[float], list[float]] = ([], [])
        verdicts: Counter[str] = Counter()
        for _ in range(repeat):
            elapsed, verdicts = skill(socket, manifest, n)
            walls[0].append(elapsed)
            walls[1].append(taskorch(cwd, n))
        sides = []
        for name, wall in zip(("skill", "taskorch"), walls):
            folder, calls, others = shims(cwd.parent / f"shim-{name}", real_tmux)
            if name == "skill":
                skill(socket, manifest, n, folder)
            else:
                taskorch(cwd, n, folder)
            sides.append(Side(wall, read_calls(calls), counted(others)))
        return Row(n, sides[0], sides[1], verdicts)


# ------------------------------------------------------------------------------------ report

def panes(calls: list[list[str]]) -> int:
    return sum(subcommands(argv).count("capture-pane") for argv in calls)


def ratio(row: Row) -> float:
    return statistics.median(row.skill.wall) / statistics.median(row.taskorch.wall)


def print_times(rows: list[Row], repeat: int) -> None:
    print(f"Seconds per whole process, median and min of {repeat} after {WARMUPS} warm-ups, run "
          f"alternately on the same live chatty sessions.\nskill: `bash check_progress.sh` "
          f"(observe and classify, manifest update); taskorch: `python -m doit heartbeat` "
          f"(observe, classify, heal, verify, deliver, advance).")
    print(f"{'sessions':>8} | {'skill med':>9} {'min':>6} | {'taskorch med':>12} {'min':>6} | "
          f"{'skill/taskorch med':>18} {'min':>5}")
    for r in rows:
        s, t = r.skill.wall, r.taskorch.wall
        print(f"{r.sessions:>8} | {statistics.median(s):>9.3f} {min(s):>6.3f} | "
              f"{statistics.median(t):>12.3f} {min(t):>6.3f} | {ratio(r):>18.1f} "
              f"{min(s) / min(t):>5.1f}")


def print_processes(rows: list[Row]) -> None:
    print(f"\nProcesses one run started (logging shims first on PATH): tmux calls (panes "
          f"captured), and other programs ({', '.join(OTHERS)})")
    print(f"{'sessions':>8} | {'skill tmux':>10} {'panes':>5} {'others':>6} | "
          f"{'taskorch tmux':>13} {'panes':>5} {'others':>6} | skill's verdicts")
    for r in rows:
        s, t = r.skill, r.taskorch
        others = ", ".join(f"{k} {v}" for k, v in sorted(s.others.items()))
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(r.verdicts.items()))
        print(f"{r.sessions:>8} | {len(s.tmux):>10} {panes(s.tmux):>5} "
              f"{sum(s.others.values()):>6} | {len(t.tmux):>13} {panes(t.tmux):>5} "
              f"{sum(t.others.values()):>6} | {verdicts}  [skill's others: {others}]")


def print_goal(rows: list[Row], largest: int) -> None:
    row = next(r for r in rows if r.sessions == largest)
    ok = ratio(row) >= GOAL_RATIO
    print(f"\nGoal: taskorch's full heartbeat (observe, classify, heal, advance) at least "
          f"{GOAL_RATIO:.0f}x faster than the skill's check-only script at {largest} sessions: "
          f"{ratio(row):.1f}x (medians) -> {'met' if ok else 'MISSED'}")


# -------------------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="10,50,200", help="live sessions, comma-separated")
    parser.add_argument("--repeat", type=int, default=7, help=f"timed runs after {WARMUPS} warm-ups")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sessions.split(",")]
    real_tmux = shutil.which("tmux")
    missing = [p for p in ("tmux", "jq", "bash") if shutil.which(p) is None]
    if real_tmux is None or missing:
        raise SystemExit(f"not installed: {', '.join(missing)}")

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="taskorch-vs-skill-") as tmp:
        agent = write_file(Path(tmp) / "agent.py", AGENT)
        rows = [measure(n, args.repeat, agent, real_tmux) for n in sizes]

    print_times(rows, args.repeat)
    print_processes(rows)
    print_goal(rows, max(sizes))
    print(f"\nMachine: {machine()}; load average (1 min) {load:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")


if __name__ == "__main__":
    main()
