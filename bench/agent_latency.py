"""From a real agent's finished turn to its dependent's start, for every built-in profile
(issue 9, part 9: at most 2 s, interactive ones included).

Each run is a fresh control directory with a bare remote, its own tmux server (killed at the
end, even on errors), a private HOME holding the CLIs' first-run state (tests/realagents/
sandbox.py) and the scripted model server on 127.0.0.1. Task A runs the real CLI under the
profile: it writes a file, commits and says done. Task B depends on A and runs the demo agent.
Nothing but the agents' own signals wakes the heartbeat: no cron, no heartbeat run by hand.

- **turn end**: the agent's own signal. Headless profiles: the process exit (the wrapper's exit
  file, written at once). Interactive ones, which never exit: the hook's record of the finished
  turn (Claude's Stop, codex's notify).
- **dependent's start**: the moment B's wrapper records its process, just before B's agent runs
  (runs/B/attempt-1.pid).
- **from the last answer**: the same end, measured from the model server sending its last
  answer, so it includes the agent's own wrap-up (aider writes its commit message then).

    python bench/agent_latency.py [--runs 3] [--profiles codex,claude,...]

Needs the real CLIs (`bash tests/realagents/install.sh`). About 15 s a run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from taskorch.project import Project

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "realagents"))
from heartbeat import stop  # noqa: E402
from model_server import ModelServer  # noqa: E402
from plan_launch import control_dir, machine  # noqa: E402
from sandbox import prepare_home  # noqa: E402

GOAL_S = 2.0
PROFILES = ("codex", "claude", "codex-exec", "claude-p", "aider")
STEPS = [{"write": "hello.txt", "content": "hello\n"}, {"commit": "Add hello.txt"},
         {"say": "Done: created hello.txt and committed it."}]
TIMEOUT_S = 120


def agents_path() -> str:
    line = subprocess.run(["bash", str(ROOT / "tests" / "realagents" / "install.sh"), "--env"],
                          capture_output=True, text=True, check=True).stdout
    return line.split('"', 2)[1].replace("$PATH", os.environ.get("PATH", ""))


def remote(where: Path) -> Path:
    """A bare remote with one commit on main."""
    bare, seed = where / "remote.git", where / "seed"
    for argv in (["git", "init", "-q", "--bare", "-b", "main", str(bare)],
                 ["git", "init", "-q", "-b", "main", str(seed)],
                 ["git", "-C", str(seed), "-c", "user.name=b", "-c", "user.email=b@b",
                  "commit", "-q", "--allow-empty", "-m", "start"],
                 ["git", "-C", str(seed), "push", "-q", str(bare), "main"]):
        subprocess.run(argv, check=True, capture_output=True)
    return bare


def manifest(profile: str, bare: Path) -> dict[str, Any]:
    top: dict[str, Any] = {"project": "latency", "repo": str(bare), "agent": profile,
                           "hook": True, "merge": "auto", "stall_minutes": 30,
                           "retry_backoff_seconds": 0}
    if profile == "aider":
        top["model"] = "openai/gpt-4o"
    tasks = [{"id": "A", "title": "Add hello.txt", "files": ["hello.txt"],
              "body": "Create hello.txt holding hello, and commit it."},
             {"id": "B", "title": "Then", "files": ["then.txt"], "dependsOn": ["A"],
              "agent": "demo"}]
    return {**top, "phases": [{"name": "Phase 1", "tasks": tasks}]}


def turn_end(runs: Path, profile: str) -> float | None:
    if profile in ("codex", "claude"):
        record = runs / "A" / "attempt-1.hooks.jsonl"
        if not record.exists():
            return None
        ends = [json.loads(line)["at"] for line in record.read_text().splitlines()
                if '"finished"' in line]
        return ends[-1] if ends else None
    exit_file = runs / "A" / "attempt-1.exit"
    return exit_file.stat().st_mtime if exit_file.exists() else None


def one_run(profile: str, path: str, keep: bool = False) -> dict[str, float]:
    where = Path(tempfile.mkdtemp(prefix=f"latency-{profile}-"))
    server = ModelServer({"default": STEPS}, log_path=where / "requests.jsonl").start()
    (where / "control").mkdir()
    control = control_dir(where / "control", manifest(profile, remote(where)))
    workdir = control / ".orchestrator"
    env = {**{k: v for k, v in os.environ.items() if k != "TASKORCH_MANIFEST"},
           **prepare_home(where / "home", str(workdir / "repo"), server.url), "PATH": path}
    try:
        subprocess.run([sys.executable, "-m", "doit", "launch"], cwd=control, env=env,
                       check=True, capture_output=True, timeout=120)
        started = workdir / "runs" / "B" / "attempt-1.pid"
        deadline = time.monotonic() + TIMEOUT_S
        while not started.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{profile}: B never started; see {workdir}/heartbeat.log")
            time.sleep(0.05)
        begun = started.stat().st_mtime
        end = turn_end(workdir / "runs", profile)
        last_answer = max(r["t"] for r in server.requests() if r.get("steps"))
        return {"turn_end": begun - end if end else float("nan"),
                "last_answer": begun - last_answer}
    finally:
        stop(Project.load(control / "orchestrator.yaml"))
        server.stop()
        if keep:
            print(f"  kept {where}", flush=True)
        else:
            shutil.rmtree(where, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--keep", action="store_true", help="keep each run's directory")
    args = parser.parse_args()
    path = agents_path()
    print(machine())
    print(f"{'profile':<11} {'runs':>4} {'turn end → B (median, max)':>28} "
          f"{'last answer → B (median)':>26}  goal {GOAL_S:.0f} s")
    for profile in args.profiles.split(","):
        runs = [one_run(profile, path, args.keep) for _ in range(args.runs)]
        ends = [r["turn_end"] for r in runs]
        answers = [r["last_answer"] for r in runs]
        worst = max(ends)
        print(f"{profile:<11} {len(runs):>4} {statistics.median(ends):>17.2f} s, "
              f"{worst:.2f} s {statistics.median(answers):>24.2f} s  "
              f"{'met' if worst <= GOAL_S else 'MISSED'} (×{GOAL_S / worst:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
