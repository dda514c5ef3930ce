"""Agents as Slurm batch jobs (issue 11): `sbatch --parsable`, one `scontrol show job` per tick
for every job, `scancel` to stop.

A job runs the shipped job command (ship.py) on a worker; its output goes to the task's log
file, which Slurm writes on the worker's side of the shared file system that Slurm clusters
have. A job's name is its session name, so a later `doit launch` finds and adopts it instead of
submitting a second. Slurm forgets finished jobs after MinJobAge (300 s by default) and
`sacct` needs an accounting database many clusters lack, so a finished job whose record is gone
is read from its log's last line, the job's result (results.py).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path
from typing import Callable

from taskorch.runners.base import Pane, RunnerError, session_prefix
from taskorch.runners.remote import RemoteRunner

TIMEOUT = 30.0  # seconds for one Slurm command: a controller that does not answer is an error
ACTIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
          "RESIZING", "SIGNALING", "STAGE_OUT")
STOP_WAIT = 15.0


class SlurmRunner(RemoteRunner):
    engine = "Slurm"
    live = True  # --output is the task's log, written as the job runs

    def __init__(self, key: str, log_of: Callable[[str], Path], partition: str | None = None,
                 sbatch: tuple[str, ...] = ()) -> None:
        super().__init__(key, log_of)  # the log is on the file system the workers share
        self.options = ((f"--partition={partition}",) if partition else ()) + tuple(sbatch)

    def start(self, session: str, argv: list[str], cwd: Path, log: Path) -> str:
        log.parent.mkdir(parents=True, exist_ok=True)
        # --wrap is run by the worker's sh: argv is taskorch's own job command, quoted whole.
        out = self._call("sbatch", "--parsable", f"--job-name={session}", f"--output={log}",
                         "--open-mode=append", *self.options, "--wrap", shlex.join(argv))
        job = out.split(";")[0].strip()
        if not job.isdigit():
            raise RunnerError(f"sbatch gave no job id for {session}: {out.strip()!r}")
        return job

    def snapshot(self) -> dict[str, Pane]:
        """The newest job of each of this project's sessions, from one `scontrol` call."""
        newest: dict[str, dict[str, str]] = {}
        for job in self.jobs():
            name = job.get("JobName", "")
            if name.startswith(session_prefix(self.key)) and (
                    name not in newest or int(job["JobId"]) > int(newest[name]["JobId"])):
                newest[name] = job
        return {name: self._pane(name, job) for name, job in newest.items()}

    def jobs(self) -> list[dict[str, str]]:
        """Every job record the controller still holds, as `Key=Value` dicts."""
        out = self._call("scontrol", "--oneliner", "show", "job")
        return [dict(field.split("=", 1) for field in line.split() if "=" in field)
                for line in out.splitlines() if line.startswith("JobId=")]

    def _pane(self, name: str, job: dict[str, str]) -> Pane:
        state = job.get("JobState", "")
        if state in ACTIVE:
            return Pane(name, False, None, None, None, self.activity(name))
        code, signal = (job.get("ExitCode") or "0:0").split(":")
        return Pane(name, True, int(code), int(signal) or None, None, None)

    def stop(self, session: str) -> None:
        self._call("scancel", f"--name={session}")
        deadline = time.monotonic() + STOP_WAIT
        while any(j.get("JobName") == session and j.get("JobState") in ACTIVE
                  for j in self.jobs()):
            if time.monotonic() > deadline:
                raise RunnerError(f"Slurm job {session} still runs {STOP_WAIT:g} s after scancel")
            time.sleep(0.2)

    def kill_server(self) -> bool:
        for name in self.snapshot():
            self._call("scancel", f"--name={name}")
        return False  # the cluster is not ours to end

    def _call(self, *argv: str) -> str:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise RunnerError(f"{argv[0]} is not installed; runner: slurm needs Slurm's client "
                              "commands on PATH") from None
        except subprocess.TimeoutExpired:
            raise RunnerError(f"{argv[0]}: no answer in {TIMEOUT:g} s from the Slurm "
                              "controller") from None
        if proc.returncode != 0:
            detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            raise RunnerError(f"{' '.join(argv[:2])}: {detail}")
        return proc.stdout
