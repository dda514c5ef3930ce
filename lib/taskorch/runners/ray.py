"""Agents as Ray jobs (issue 11), through Ray's Jobs HTTP API only: the control machine needs no
`ray` package. `POST /api/jobs/` to submit, one `GET /api/jobs/` per tick for every job,
`GET /api/jobs/<id>/logs` for a job's output, `POST /api/jobs/<id>/stop` to stop.

A job runs the shipped job command (ship.py) on whichever node Ray places it. Its submission id
is derived from the session and the command, which names the attempt's job ref, so submitting
the same attempt twice is one job (Ray answers a duplicate id with HTTP 500 "already exists"),
and a later `doit launch` adopts the running job. The session is also in the job's metadata,
which is how a snapshot tells this project's jobs from the rest. Ray shows entrypoints, env_vars
and metadata in plain text to anyone who can reach the dashboard, so none of them carries a
secret: the command holds a repository URL and a ref, and the worker has its own credentials.

Unlike Slurm, Ray keeps a job's output on the node that ran it, so the task's log file on this
machine is filled from the API: when the job has ended (before results.py reads its START and
RESULT lines) and whenever its screen is captured. Each job's part of the log begins with a
`TASKORCH-RAY-JOB <id>` line and, once it has ended and been copied whole, closes with a
`TASKORCH-RAY-END <id> …` line, so an ended job's output is fetched once.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shlex
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from taskorch.runners.base import Pane, RunnerError, session_prefix
from taskorch.runners.remote import RemoteRunner

TIMEOUT = 30.0  # seconds for one API call: a head that does not answer is an error
STOP_WAIT = 15.0
PENDING_WAIT = 3.0  # a job PENDING for resources ignores stop (DESIGN.md): waiting won't help
ENDED = ("SUCCEEDED", "FAILED", "STOPPED")
SESSION = "taskorch_session"  # the metadata key naming a job's session
BEGIN, END = "TASKORCH-RAY-JOB ", "TASKORCH-RAY-END "
DETAIL = re.compile(r"\s+\w+: ")  # "\tclass_name: JobSupervisor", in a dead actor's message


def submission_id(session: str, argv: list[str]) -> str:
    """Stable per attempt: argv holds the attempt's job ref, so a new attempt is a new job."""
    return f"{session}-{hashlib.sha1(json.dumps(argv).encode()).hexdigest()[:12]}"


class RayRunner(RemoteRunner):
    engine = "Ray"  # its stdin is /dev/null

    def __init__(self, key: str, log_of: Callable[[str], Path], options: dict[str, Any]) -> None:
        super().__init__(key, log_of)  # a session's log file, on this machine: copied from Ray
        self.address = str(options["address"]).rstrip("/")
        self.resources = dict(options.get("resources") or {})

    def start(self, session: str, argv: list[str], cwd: Path, log: Path) -> str:
        job = submission_id(session, argv)
        body: dict[str, Any] = {"entrypoint": shlex.join(argv), "submission_id": job,
                                "metadata": {SESSION: session}}
        if self.resources:  # else Ray runs the job on the head, whatever the cluster has
            body["entrypoint_resources"] = self.resources
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._call("POST", "/api/jobs/", body)
        except _Refused as exc:
            if "already exists" not in exc.body:  # else this attempt was submitted before: one job
                raise RunnerError(f"Ray refused job {job}: {exc}") from None
        if f"\n{BEGIN}{job}\n" not in "\n" + _read(log, tail=4096):
            with log.open("a", encoding="utf-8") as out:
                out.write(f"{BEGIN}{job}\n")
        return job

    def snapshot(self) -> dict[str, Pane]:
        """The newest job of each of this project's sessions, from one `GET /api/jobs/`; an
        ended job's output is copied to its log first, for results.py to read."""
        panes = {}
        for session, job in self._newest().items():
            if job.get("status") in ENDED:
                try:
                    self._copy_log(session, job)
                except _Refused:
                    pass  # its logs are gone (a lost node): its exit code still counts
            panes[session] = _pane(session, job)
        return panes

    def jobs(self) -> list[dict[str, Any]]:
        """Every job record the head holds (this project's and others')."""
        jobs = self._call("GET", "/api/jobs/")
        if not isinstance(jobs, list):
            raise RunnerError(f"Ray head at {self.address}: /api/jobs/ gave no list")
        return jobs

    def _newest(self) -> dict[str, dict[str, Any]]:
        newest: dict[str, dict[str, Any]] = {}
        for job in self.jobs():
            session = (job.get("metadata") or {}).get(SESSION, "")
            if session.startswith(session_prefix(self.key)) and (
                    session not in newest or _order(job) > _order(newest[session])):
                newest[session] = job
        return newest

    def capture(self, sessions: list[str], lines: int = 50) -> dict[str, str]:
        """The end of each job's output, fetched into its log first: what a screen would show."""
        wanted = set(sessions)
        for session, job in self._newest().items():
            if session in wanted:
                self._copy_log(session, job)
        return super().capture(sessions, lines)

    def stop(self, session: str) -> None:
        """Stop every unended job of the session and wait until Ray reports them ended."""
        ids = [job["submission_id"] for job in self._of(session)]
        for job in ids:
            self._call("POST", f"/api/jobs/{job}/stop")
        t0 = time.monotonic()
        while left := self._of(session):
            waited, job = time.monotonic() - t0, left[0]
            if job.get("status") == "PENDING" and waited > PENDING_WAIT:
                raise RunnerError(
                    f"Ray job {job['submission_id']} is still PENDING after stop: Ray ignores "
                    "stop for a job that waits for resources (this one asks for "
                    f"{json.dumps(self.resources or {'CPU': 0})}), and fails it by itself "
                    "after 900 s; free or add the resources, or wait")
            if waited > STOP_WAIT:
                raise RunnerError(f"Ray job {job['submission_id']} still {job.get('status')} "
                                  f"{STOP_WAIT:g} s after stop")
            time.sleep(0.2)

    def _of(self, session: str) -> list[dict[str, Any]]:
        return [job for job in self.jobs() if (job.get("metadata") or {}).get(SESSION) == session
                and job.get("status") not in ENDED]

    def attach_argv(self, session: str) -> list[str]:
        return ["tail", "-F", str(self.log_of(session))]  # -F: each copy replaces the file

    def kill_server(self) -> bool:
        for job in self.jobs():
            if job.get("status") not in ENDED and str((job.get("metadata") or {}).get(
                    SESSION, "")).startswith(session_prefix(self.key)):
                self._call("POST", f"/api/jobs/{job['submission_id']}/stop")
        return False  # the cluster is not ours to end

    def _copy_log(self, session: str, job: dict[str, Any]) -> None:
        """Put the job's output, as far as it goes, in its part of the session's log."""
        log, job_id = self.log_of(session), str(job["submission_id"])
        if f"{END}{job_id} " in _read(log, tail=4096):
            return  # ended and copied whole before: its END line is the log's last
        text = _read(log)
        logs = str(self._call("GET", f"/api/jobs/{job_id}/logs").get("logs") or "")
        if logs and not logs.endswith("\n"):
            logs += "\n"
        if job.get("status") in ENDED:
            logs += f"{END}{job_id} {job['status']} {said(str(job.get('message') or ''))}\n"
        at = ("\n" + text).rfind(f"\n{BEGIN}{job_id}\n")  # this job's part replaces itself
        before = text[:at] if at >= 0 else text
        log.parent.mkdir(parents=True, exist_ok=True)
        part = log.with_name(log.name + ".part")
        part.write_text(f"{before}{BEGIN}{job_id}\n{logs}", encoding="utf-8")
        part.replace(log)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.address + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            raise _Refused(f"{method} {path}: HTTP {exc.code} {_last_line(text)}", text) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            why = getattr(exc, "reason", exc)
            raise RunnerError(f"Ray head at {self.address} cannot be asked ({method} {path}): "
                              f"{why}") from None


class _Refused(RunnerError):
    """The head answered with an HTTP error; `body` is what it said (a traceback, often)."""

    def __init__(self, message: str, body: str) -> None:
        super().__init__(message)
        self.body = body


def said(message: str) -> str:
    """Ray's message on a job, in one line: its sentences without the log tail it repeats
    (", last available logs …") or a dead actor's `key: value` lines, which would push the
    cause ("The actor died because its node has died.") past the cut."""
    lines = message.split(", last available logs")[0].splitlines()
    return " ".join(" ".join(line for line in lines if not DETAIL.match(line)).split())[:300]


def _pane(session: str, job: dict[str, Any]) -> Pane:
    status = job.get("status")
    if status not in ENDED:
        return Pane(session, False, None, None, None, None)
    code = job.get("driver_exit_code")
    if code is None:  # Ray stopped it, or it never ran (a failed runtime env, a lost node)
        why = (f"its Ray job FAILED: {said(str(job.get('message') or ''))}"
               if status == "FAILED" else None)
        return Pane(session, True, 0 if status == "SUCCEEDED" else None,
                    15 if status == "STOPPED" else None, None, None, why)
    return Pane(session, True, int(code), None, None, None)


def _order(job: dict[str, Any]) -> tuple[int, str]:
    return int(job.get("start_time") or 0), str(job.get("submission_id"))


def _read(path: Path, tail: int = 0) -> str:
    try:
        with path.open("rb") as f:
            if tail:
                f.seek(max(0, f.seek(0, 2) - tail))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
