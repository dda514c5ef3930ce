"""Where taskorch keeps its runtime files inside the work directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def clone(self) -> Path:
        return self.root / "repo"

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def doit_db(self) -> Path:
        return self.root / "doit.db"

    @property
    def plan_cache(self) -> Path:
        """The compiled manifest and plan (plancache.py), keyed by the manifest's content."""
        return self.root / "plan.cache"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def tmux_conf(self) -> Path:
        return self.root / "tmux.conf"

    @property
    def heartbeat_log(self) -> Path:
        return self.root / "heartbeat.log"

    @property
    def heartbeat_hook(self) -> Path:
        """The script that starts one heartbeat: run on an agent's exit and when a retry is due."""
        return self.root / "heartbeat-hook"

    @property
    def wakeup(self) -> Path:
        """When the one pending delayed heartbeat fires (epoch seconds); gone when none is."""
        return self.root / "heartbeat.due"

    @property
    def last_tick(self) -> Path:
        """When the last tick ended, and its summary: `doit status` tells a dead heartbeat."""
        return self.root / "heartbeat.last"

    @property
    def rerun(self) -> Path:
        """Touched by a heartbeat that found another one running: run once more."""
        return self.root / "heartbeat.rerun"

    @property
    def launches(self) -> Path:
        """`<epoch> <profile>` per agent started, for launches_per_hour (budget.py)."""
        return self.root / "launches"

    @property
    def gates_seen(self) -> Path:
        """The journal position and manifest stamp at which gates were last worked out."""
        return self.root / "gates.seen"

    @property
    def base_checked(self) -> Path:
        """Touched when the remote base was last checked for a force-push (deliver.watch_base)."""
        return self.root / "base-checked"

    @property
    def clone_config(self) -> Path:
        """The clone's .git/config as taskorch made it (cloneconfig.py puts it back)."""
        return self.root / "clone.config"

    def worktree(self, task_id: str) -> Path:
        return self.root / "worktrees" / task_id

    def log(self, task_id: str) -> Path:
        return self.root / "logs" / f"{task_id}.log"

    def run_dir(self, task_id: str) -> Path:
        return self.root / "runs" / task_id

    def prompt_file(self, task_id: str, attempt: int) -> Path:
        return self.run_dir(task_id) / f"attempt-{attempt}.prompt.md"

    def spec_file(self, task_id: str, attempt: int) -> Path:
        return self.run_dir(task_id) / f"attempt-{attempt}.json"

    def exit_file(self, task_id: str, attempt: int) -> Path:
        return self.run_dir(task_id) / f"attempt-{attempt}.exit"

    def events_file(self, task_id: str, attempt: int, suffix: str) -> Path:
        """Every raw line the agent printed to stdout, when its profile reads them (`events`)."""
        return self.run_dir(task_id) / f"attempt-{attempt}{suffix}"

    def signals_file(self, task_id: str, attempt: int) -> Path:
        """What those lines said (signals.Signals), written before the exit file."""
        return self.run_dir(task_id) / f"attempt-{attempt}.signals.json"

    def hooks_file(self, task_id: str, attempt: int) -> Path:
        """What the agent's own hooks said, one event a line (hooks/), when its profile has them."""
        return self.run_dir(task_id) / f"attempt-{attempt}.hooks.jsonl"

    def job_file(self, task_id: str, attempt: int) -> Path:
        """The engine's id of the attempt's job, for a runner that has one (Slurm, Ray, Batch)."""
        return self.run_dir(task_id) / f"attempt-{attempt}.job"

    def failure_file(self, task_id: str, attempt: int) -> Path:
        """Why attempt N failed, with its log tail: the context of the retry prompt."""
        return self.run_dir(task_id) / f"attempt-{attempt}.failure.json"


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file so that readers see the old content or the new, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
