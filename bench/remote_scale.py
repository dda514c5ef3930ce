"""Remote runners against tmux, in the same run (issue 11): what one `doit heartbeat` costs with
N live agents, how long a submit takes, and how long a dependent waits after its predecessor's
job ends.

Slurm is a real one-node cluster and Ray a real head, each in private namespaces
(tests/engines/; needs root, `bash tests/engines/slurm/install.sh` and
`bash tests/engines/ray/install.sh`). Each scenario gets its own control directory and
bare remote; the tmux server and the cluster are stopped at the end, even on errors.

- **tick**: N agents that sleep, all running; the median of `--repeat` heartbeats (whole
  process, and the tick itself as the heartbeat prints it).
- **submit**: `doit launch` of the N tasks, divided by N (for Slurm: the job's publish to the
  remote, one push per attempt, and `sbatch`).
- **exit to dependent**: A's agent exits at once, B depends on A; from A's job ending to B's
  start, with the hook on and no heartbeat run by hand (tmux: the exit hook; Slurm: the 10 s
  poll).

    python bench/remote_scale.py [--jobs 200] [--ray-jobs 50] [--repeat 5] [--latency-runs 3]
                                 [--engines tmux,slurm,ray] [--ray-slots N]

Ray runs a ~100 MB supervisor process per running job: on 2 cores, 200 running Ray jobs did
not all come up in 20 minutes (121 did, at a load average of 112). `--ray-slots 20` measures
200 Ray jobs of which 20 run and 180 wait PENDING for a slot: the head lists them all, and
the tick reads them all in its one call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "engines"))
from agent_latency import remote as bare_remote  # noqa: E402 (a bare remote with main)
from heartbeat import stop as stop_tmux  # noqa: E402
from plan_launch import control_dir, machine  # noqa: E402
from ray_head import RayHead  # noqa: E402
from slurm_cluster import SlurmCluster  # noqa: E402

from taskorch.project import Project  # noqa: E402

SLEEPER = [sys.executable, "-c", "import time; time.sleep(86400)"]


def manifest(runner: Any, bare: Path, tasks: list[dict[str, Any]], hook: bool) -> dict[str, Any]:
    name = runner if isinstance(runner, str) else runner["kind"]
    return {"project": f"bench-{name}", "repo": str(bare), "runner": runner, "hook": hook,
            "agent": "sleeper", "agents": {"sleeper": {"command": SLEEPER}},
            "max_parallel": len(tasks), "stall_minutes": 100_000, "merge": "auto",
            "phases": [{"name": "Phase 1", "tasks": tasks}]}


def doit(control: Path, env: dict[str, str], *verb: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "doit", *verb], cwd=control, env=env,
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"doit {' '.join(verb)} failed in {control}:\n{out.stderr[-2000:]}")
    return time.perf_counter() - start, out.stdout


def running(control: Path, env: dict[str, str], n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        panes = Project.load(control / "orchestrator.yaml").runner.snapshot()
        if sum(not p.dead for p in panes.values()) >= n:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sum(not p.dead for p in panes.values())} of {n} came up")
        time.sleep(1)


def tick_and_submit(runner: Any, n: int, repeat: int, env: dict[str, str],
                    where: Path) -> dict[str, float]:
    (where / "control").mkdir(parents=True)
    tasks = [{"id": f"t{i}", "title": f"T{i}", "files": [f"f{i}.txt"]} for i in range(n)]
    control = control_dir(where / "control", manifest(runner, bare_remote(where), tasks, False))
    try:
        launched, _ = doit(control, env, "launch")
        running(control, env, n)
        ticks, whole = [], []
        for _ in range(repeat):
            seconds, out = doit(control, env, "heartbeat")
            whole.append(seconds)
            ticks.append(float(re.findall(r"\(([\d.]+) s\)", out)[-1]))
        return {"submit": launched / n, "heartbeat": statistics.median(whole),
                "tick": statistics.median(ticks)}
    finally:
        stop(Project.load(control / "orchestrator.yaml"))


def exit_to_dependent(runner: Any, env: dict[str, str], where: Path) -> float:
    (where / "control").mkdir(parents=True)
    tasks = [{"id": "A", "title": "A", "files": ["a.txt"], "agent": "demo"},
             {"id": "B", "title": "B", "files": ["b.txt"], "dependsOn": ["A"]}]
    control = control_dir(where / "control", manifest(runner, bare_remote(where), tasks, True))
    workdir = control / ".orchestrator"
    try:
        doit(control, env, "launch")
        deadline = time.monotonic() + 180
        while not (workdir / "runs" / "B" / "attempt-1.json").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{runner}: B never started; see {workdir}/heartbeat.log")
            time.sleep(0.05)
        ended = ended_at(workdir, runner)
        return (workdir / "runs" / "B" / "attempt-1.json").stat().st_mtime - ended
    finally:
        stop(Project.load(control / "orchestrator.yaml"))


def stop(project: Project) -> None:
    """End every agent of the scenario: the tmux server, or the project's jobs."""
    if getattr(project.runner, "remote", False):
        project.runner.kill_server()
    else:
        stop_tmux(project)


def ended_at(workdir: Path, runner: Any) -> float:
    """When A's agent ended. tmux: its exit file, written as it exits. Slurm: its log, which
    the job writes on the shared disk as it ends. Ray: the job's own end time, since its log
    is copied here only when the heartbeat sees the end."""
    if isinstance(runner, dict) and runner["kind"] == "ray":
        with urllib.request.urlopen(f"{runner['address']}/api/jobs/", timeout=30) as resp:
            jobs = json.loads(resp.read())
        return max(j["end_time"] / 1000 for j in jobs
                   if str((j.get("metadata") or {}).get("taskorch_session", "")).endswith("-A")
                   and j.get("end_time"))
    exit_file = workdir / "runs" / "A" / "attempt-1.exit"
    log = workdir / "logs" / "A.log"
    return min(p.stat().st_mtime for p in (exit_file, log) if p.exists())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--ray-jobs", type=int, default=50,
                        help="Ray's supervisor is ~65 MB a job: fewer than for Slurm")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--engines", default="tmux,slurm,ray")
    parser.add_argument("--ray-slots", type=int, default=0,
                        help="the Ray head advertises this many agent slots and each job asks "
                             "for one: the rest of the jobs wait PENDING, as on a cluster smaller "
                             "than the backlog (0: no slots asked, every job runs)")
    args = parser.parse_args()
    print(machine())
    base = {k: v for k, v in os.environ.items() if k != "TASKORCH_MANIFEST"}
    top = Path(tempfile.mkdtemp(prefix="remote-scale-"))
    engines = args.engines.split(",")
    try:
        with contextlib.ExitStack() as stack:
            scenarios: dict[str, tuple[Any, dict[str, str], int]] = {}
            if "tmux" in engines:
                scenarios["tmux"] = ("tmux", base, args.jobs)
            if "slurm" in engines:
                cluster = stack.enter_context(SlurmCluster(top / "slurm", cpus=args.jobs + 8))
                os.environ.update(cluster.env())  # this process asks the runner too
                scenarios["slurm"] = ("slurm", {**base, **cluster.env()}, args.jobs)
            if "ray" in engines:
                slots = {"agent_slot": args.ray_slots} if args.ray_slots else {}
                head = stack.enter_context(RayHead(top / "ray", cpus=args.ray_jobs + 8,
                                                   resources=slots))
                runner = {"kind": "ray", "address": head.address,
                          **({"resources": {"agent_slot": 1}} if slots else {})}
                scenarios["ray"] = (runner, base, args.ray_jobs)
            for name, (runner, env, n) in scenarios.items():
                got = tick_and_submit(runner, n, args.repeat, env, top / f"tick-{name}")
                print(f"{name:<6} {n} agents: heartbeat {got['heartbeat']:.2f} s "
                      f"(tick {got['tick']:.2f} s), submit {got['submit'] * 1000:.0f} ms each",
                      flush=True)
            for name, (runner, env, _) in scenarios.items():
                # without slots: the tick's PENDING jobs ignore stop and take every slot freed
                runner = {k: v for k, v in runner.items() if k != "resources"} \
                    if isinstance(runner, dict) else runner
                waits = [exit_to_dependent(runner, env, top / f"latency-{name}-{i}")
                         for i in range(args.latency_runs)]
                print(f"{name:<6} exit to dependent: median {statistics.median(waits):.2f} s, "
                      f"max {max(waits):.2f} s ({len(waits)} runs)", flush=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
