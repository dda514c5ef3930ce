"""Reliability: the 12-task flow to merged while a seeded fault injector acts between heartbeats.

`python -m pytest tests/test_reliability.py --faults 200` is the long run; CI injects 10. After
the faults stop every task must reach merged, with no task ever running two agents, no commit
lost, a journal without gaps, and SQLite's integrity check ok.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import manifest, wait_for

DEMO = {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"],
        "env": {"TASKORCH_DEMO_DELAY": "0.2"}}
TASKS = [
    [{"id": f"a{i}", "title": f"a{i}", "files": ["chain.txt" if i < 3 else f"a{i}.txt"]} for i in range(4)],
    [{"id": f"b{i}", "title": f"b{i}", "files": [f"b{i}.txt"], **({"dependsOn": ["a3"]} if i == 0 else {})}
     for i in range(4)],
    [{"id": f"c{i}", "title": f"c{i}", "files": [f"c{i}.txt"]} for i in range(4)],
]


class Injector:
    def __init__(self, control, remote: Path, seed: int):  # type: ignore[no-untyped-def]
        self.control, self.remote, self.rng = control, remote, random.Random(seed)
        self.hook = remote / "hooks" / "pre-receive"
        self.counts: dict[str, int] = {}
        self.closed_for = 0

    def heartbeat(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "doit", "heartbeat"], cwd=self.control.path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_tmux(self) -> None:
        self.control.project().runner.kill_server()

    def kill_heartbeat(self) -> None:
        proc = self.heartbeat()
        time.sleep(self.rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def delete_worktree(self) -> None:
        worktrees = sorted((self.control.workdir / "worktrees").glob("*"))
        if worktrees:
            subprocess.run(["rm", "-rf", str(self.rng.choice(worktrees))], check=True)

    def close_remote(self) -> None:
        self.hook.write_text("#!/bin/sh\necho 'remote: closed for maintenance' >&2\nexit 1\n")
        self.hook.chmod(0o755)
        self.closed_for = self.rng.randint(1, 3)

    def kill_agent(self) -> None:
        ps = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True).stdout
        runs = str(self.control.workdir / "runs")
        pids = [int(line.split()[0]) for line in ps.splitlines()
                if runs in line and "taskorch.wrapper" in line and not line.split()[1].startswith("tmux")]
        if pids:
            os.kill(self.rng.choice(pids), signal.SIGKILL)

    def garble_log(self) -> None:
        logs = sorted((self.control.workdir / "logs").glob("*.log"))
        if logs:
            with open(self.rng.choice(logs), "ab") as f:
                f.write(bytes(self.rng.randrange(256) for _ in range(4096)))

    def crowd(self) -> None:
        for proc in [self.heartbeat() for _ in range(5)]:
            proc.wait()

    FAULTS = ("kill_tmux", "kill_heartbeat", "delete_worktree", "close_remote", "kill_agent",
              "garble_log", "crowd")

    def step(self) -> None:
        if self.closed_for:
            self.closed_for -= 1
            if not self.closed_for:
                self.hook.unlink(missing_ok=True)
        done = sum(self.counts.values())
        fault = self.FAULTS[done] if done < len(self.FAULTS) else self.rng.choice(self.FAULTS)
        getattr(self, fault)()
        self.counts[fault] = self.counts.get(fault, 0) + 1


def agents_per_task(control) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ps = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True).stdout
    counts: dict[str, int] = {}
    for line in ps.splitlines():
        if "taskorch.wrapper" in line and line.startswith(sys.executable):  # not tmux's own args
            for task in (t["id"] for phase in TASKS for t in phase):
                if f"/runs/{task}/" in line and str(control.workdir) in line:
                    counts[task] = counts.get(task, 0) + 1
    return counts


@pytest.mark.timeout(3600)  # the long runs; every wait inside has its own limit
def test_the_flow_survives_faults(control, remote, request):
    faults = request.config.getoption("--faults")
    control.write(manifest(TASKS, repo=str(remote), agent="d", agents={"d": DEMO}, max_parallel=4,
                           merge="auto", max_attempts=1000, retry_backoff_seconds=0,
                           stall_minutes=0.5))
    control.doit("launch")
    injector = Injector(control, remote, seed=7)
    for _ in range(faults):
        injector.step()
        subprocess.run([sys.executable, "-m", "doit", "heartbeat"], cwd=control.path,
                       capture_output=True, timeout=120)
        counts = agents_per_task(control)
        assert all(n <= 1 for n in counts.values()), f"a task ran two agents: {counts}"
    injector.hook.unlink(missing_ok=True)
    wait_for(lambda: control.doit("heartbeat") and all(
        s["status"] == "merged" for s in control.peek().values()), timeout=240, interval=0.2,
        what="every task to reach merged after the faults")
    print(f"\nfaults injected and survived: {sum(injector.counts.values())} {injector.counts}")

    db = sqlite3.connect(control.workdir / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    seqs = [s for (s,) in db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the journal has a gap"
    for task in (t["id"] for phase in TASKS for t in phase):
        chain = db.execute("SELECT old, new FROM events WHERE task=? ORDER BY seq", (task,)).fetchall()
        assert all(chain[i][0] == chain[i - 1][1] for i in range(1, len(chain))), f"{task}'s journal skips"
    clone = control.workdir / "repo"
    branches = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/heads/"],
                              cwd=clone, capture_output=True, text=True, check=True).stdout.split()
    agent_commits = subprocess.run(["git", "rev-list", *branches, "--not", "origin/main"], cwd=clone,
                                   capture_output=True, text=True, check=True).stdout.split()
    leftovers = [c for c in agent_commits if subprocess.run(
        ["git", "branch", "-r", "--contains", c], cwd=clone, capture_output=True, text=True).stdout == ""]
    assert not leftovers, f"commits not on the remote: {leftovers}"
