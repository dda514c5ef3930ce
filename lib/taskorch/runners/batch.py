"""Agents as AWS Batch jobs (issue 11), on the skill's path: a job definition made from an ECS
task definition, `submit_job` per attempt, one `list_jobs` per tick, `terminate_job` to stop.

A job runs the shipped job command (ship.py) in the job definition's container. Its name is
`to-<key>-<task>-a<N>` (batch_shapes.job_name), so one list_jobs call with a `to-<key>-` name
prefix sees every job of this project in every status. Batch does not keep names unique, so the
id each submit returns is kept in `runs/<task>/attempt-<N>.batch.json`, beside the attempt's
other files: one small file per attempt is never written by two processes at once, and goes when
the task's run directory goes. The output of a job is in CloudWatch, not on a shared disk: when
a job ends, its log stream is copied once into the task's log, where results.py reads the job's
START and RESULT lines as it does for every remote runner.

boto3 is imported only here, and only when a batch runner is used: `pip install
'task-orchestrator[batch]'` on the control machine.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Callable

from taskorch.runners import batch_shapes
from taskorch.runners.base import Pane, RunnerError, session_prefix
from taskorch.runners.remote import RemoteRunner

ACTIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
CONNECT_TIMEOUT = 5.0  # seconds: an endpoint that does not answer is an error, not a wait
READ_TIMEOUT = 30.0
ATTEMPTS = 3  # botocore's own retries of throttled or failed calls, the first call included
STOP_WAIT = 60.0  # Batch stops a RUNNING container with SIGTERM, then SIGKILL after 30 s
DESCRIBE_CHUNK = 100  # describe_jobs takes at most 100 ids
LOG_LIMIT = 10_000_000  # characters of a job's CloudWatch log copied into the task's log
DEFAULT_LOG_GROUP = "/aws/batch/job"
STOP_REASON = "taskorch: stopped (doit stop, retry or cleanup)"
ATTEMPT_REF = re.compile(r"/a(\d+)-job$")  # ship.job_ref: refs/taskorch/<task>/a<N>-job
NAME = re.compile(r"(.+)-a(\d+)")  # batch_shapes.job_name: <session>-a<N>


class BatchRunner(RemoteRunner):
    engine = "Batch"  # a running job's output is in CloudWatch until it ends: capture shows less

    def __init__(self, key: str, log_of: Callable[[str], Path], options: dict[str, Any]) -> None:
        super().__init__(key, log_of)  # logs/<task>.log in the work directory
        self.queue: str = options["job_queue"]
        self.task_definition: str = options["task_definition"]
        self.cluster: str = options["cluster"]
        self.overrides: dict = dict(options.get("container_overrides") or {})
        self.definition: str | None = options.get("job_definition")
        # The task definition's ARN names its region; an explicit region wins.
        arn_region = self.task_definition.split(":")[3] if self.task_definition.startswith(
            "arn:") and self.task_definition.count(":") >= 5 else None
        self.region: str | None = options.get("region") or arn_region
        self.endpoint: str | None = options.get("endpoint_url")
        self._clients: dict[str, Any] = {}
        self._checked = False

    # --- starting ---------------------------------------------------------------------------

    def start(self, session: str, argv: list[str], cwd: Path, log: Path) -> str:
        """Submit the attempt's job once and return its id: a job this attempt already has (its
        id kept, or an active job of its exact name, from a launch cut short after submitting)
        is adopted instead."""
        attempt = _attempt(argv)
        name = f"{session}-a{attempt}"
        if not NAME.fullmatch(name) or not batch_shapes.JOB_NAME.fullmatch(name):
            raise RunnerError(f"Batch job name {name!r} is not valid; task ids are [A-Za-z0-9_-]")
        ids = self._ids_file(name)
        if kept := _read_json(ids).get("job_id"):
            return str(kept)
        log.parent.mkdir(parents=True, exist_ok=True)
        found = [j for j in self._list(name) if j["jobName"] == name and j["status"] in ACTIVE]
        if found:
            job_id = max(found, key=lambda j: j.get("createdAt", 0))["jobId"]
        else:
            definition = self._prepare()
            try:
                request = batch_shapes.submit_request(
                    name, self.queue, definition, argv, {"TASKORCH_JOB": name},
                    {"taskorch": name, "taskorch-project": self.key}, self.overrides)
            except batch_shapes.BatchShapeError as exc:
                raise RunnerError(str(exc)) from None
            job_id = self._call("batch", "submit_job", **request)["jobId"]
        _write_json(ids, {"job_name": name, "job_id": job_id, "job_queue": self.queue,
                          "submitted_at": time.time()})
        return job_id

    def _prepare(self) -> str:
        """Once per runner: check the cluster, and find or register the job definition."""
        if self.definition and self._checked:
            return self.definition
        clusters = self._call("ecs", "describe_clusters", clusters=[self.cluster])
        if not [c for c in clusters.get("clusters", []) if c.get("status") == "ACTIVE"]:
            raise RunnerError(f"runner.cluster: ECS cluster {self.cluster!r} is not there or not "
                              f"ACTIVE in {self.region or 'the default region'}")
        self._checked = True
        if not self.definition:
            task_definition = self._call("ecs", "describe_task_definition",
                                         taskDefinition=self.task_definition)["taskDefinition"]
            self.definition = self._job_definition(task_definition)
        return self.definition

    def _job_definition(self, task_definition: dict) -> str:
        """`name:revision` of a job definition made from this task definition: an active one of
        the same name whose tag names the same task definition (revision included) is reused,
        so launches do not pile up revisions; else a new revision is registered."""
        source = task_definition.get("taskDefinitionArn") or self.task_definition
        name = f"taskorch-{task_definition.get('family') or 'agent'}"
        try:
            request = batch_shapes.register_request(name, task_definition)
        except batch_shapes.BatchShapeError as exc:
            raise RunnerError(str(exc)) from None
        pages = self._pages("describe_job_definitions", "jobDefinitions",
                            jobDefinitionName=name, status="ACTIVE")
        same = [d for d in pages if (d.get("tags") or {}).get(batch_shapes.TAG) == source
                and d.get("containerProperties", {}).get("image")
                == request["containerProperties"]["image"]]
        if same:
            newest = max(same, key=lambda d: d["revision"])
            return f"{newest['jobDefinitionName']}:{newest['revision']}"
        made = self._call("batch", "register_job_definition", **request)
        return f"{made['jobDefinitionName']}:{made['revision']}"

    # --- observing ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Pane]:
        """The newest job of each of this project's sessions, from one list_jobs call (paged);
        jobs that ended since the last look are described (100 ids a call) and their logs copied
        into the tasks' logs, once."""
        newest: dict[str, dict] = {}
        for job in self._list(session_prefix(self.key)):
            match = NAME.fullmatch(job.get("jobName", ""))
            if not match or not job["jobName"].startswith(session_prefix(self.key)):
                continue  # the filter ignores case: another project's key could differ by case
            session, known = match.group(1), newest.get(match.group(1))
            if known is None or _order(job) > _order(known):
                newest[session] = job
        ended = {session: job for session, job in newest.items() if job["status"] not in ACTIVE}
        fresh = [job for job in ended.values()
                 if "ended" not in _read_json(self._ids_file(job["jobName"]))]
        if fresh:
            self._bring_logs(fresh)
        return {session: self._pane(session, job) for session, job in newest.items()}

    def _pane(self, session: str, job: dict) -> Pane:
        if job["status"] in ACTIVE:
            return Pane(session, False, None, None, None, None)
        if job["status"] == "SUCCEEDED":
            return Pane(session, True, 0, None, None, None)
        code = _read_json(self._ids_file(job["jobName"])).get("ended", {}).get("exit_code")
        return Pane(session, True, code, None, None, None)  # None: results.py counts it as 1

    def _bring_logs(self, jobs: list[dict]) -> None:
        """Describe newly ended jobs (exit code, log stream) and copy each one's log into its
        task's log before the tick reads it; then mark it ended, so it is never done again."""
        ids = [job["jobId"] for job in jobs]
        details: dict[str, dict] = {}
        for i in range(0, len(ids), DESCRIBE_CHUNK):
            for job in self._call("batch", "describe_jobs",
                                  jobs=ids[i:i + DESCRIBE_CHUNK]).get("jobs", []):
                details[job["jobId"]] = job
        for summary in jobs:
            job = details.get(summary["jobId"], summary)
            container = job.get("container") or {}
            code = container.get("exitCode", (summary.get("container") or {}).get("exitCode"))
            name = summary["jobName"]
            self._append_log(name, job, container)
            ids_file = self._ids_file(name)
            _write_json(ids_file, {**_read_json(ids_file), "job_name": name,
                                   "job_id": summary["jobId"], "ended": {
                                       "status": job.get("status"), "exit_code": code,
                                       "reason": job.get("statusReason")}})

    def _append_log(self, name: str, job: dict, container: dict) -> None:
        log = self.log_of(NAME.fullmatch(name).group(1))  # type: ignore[union-attr]
        log.parent.mkdir(parents=True, exist_ok=True)
        stream = container.get("logStreamName")
        config = container.get("logConfiguration") or {}
        driver = config.get("logDriver", "awslogs")
        group = (config.get("options") or {}).get("awslogs-group", DEFAULT_LOG_GROUP)
        where = f"CloudWatch group {group}, stream {stream}"
        lines: list[str] = []
        if driver != "awslogs":
            note = f"its container logs through {driver}, not CloudWatch; read them there"
        elif not stream:
            note = "it has no log stream (it never started)"
        else:
            try:
                lines = self._log_lines(group, stream)
                note = f"{len(lines)} lines copied from {where}"
            except RunnerError as exc:
                note = f"its log could not be read from {where}: {exc}"
        reason = f" ({job['statusReason']})" if job.get("statusReason") else ""
        with log.open("a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
            out.write(f"taskorch: Batch job {name} {job.get('jobId')} ended "
                      f"{job.get('status')}{reason}; {note}\n")

    def _log_lines(self, group: str, stream: str) -> list[str]:
        lines: list[str] = []
        size, token = 0, None
        while size < LOG_LIMIT:
            page = self._call("logs", "get_log_events", logGroupName=group, logStreamName=stream,
                              startFromHead=True, **({"nextToken": token} if token else {}))
            for event in page.get("events", []):
                lines.append(event.get("message", "").rstrip("\n"))
                size += len(lines[-1])
            if not page.get("events") or page.get("nextForwardToken") == token:
                break  # the forward token repeats at the end of the stream
            token = page.get("nextForwardToken")
        return lines

    # --- stopping -----------------------------------------------------------------------------

    def stop(self, session: str) -> None:
        """Terminate every active job of the session (any attempt), and wait until Batch says
        each has ended; terminate_job on an ended job is not needed, so it is not made."""
        def active() -> list[dict]:
            return [j for j in self._list(f"{session}-a")
                    if (m := NAME.fullmatch(j["jobName"])) and m.group(1) == session
                    and j["status"] in ACTIVE]
        running = active()
        for job in running:
            self._call("batch", "terminate_job", jobId=job["jobId"], reason=STOP_REASON)
        deadline = time.monotonic() + STOP_WAIT
        while running and (running := active()):
            if time.monotonic() > deadline:
                raise RunnerError(f"Batch job {running[0]['jobName']} {running[0]['jobId']} is "
                                  f"still {running[0]['status']} {STOP_WAIT:g} s after "
                                  "terminate_job")
            time.sleep(1.0)

    def kill_server(self) -> bool:
        for session in self.snapshot():
            self.stop(session)
        return False  # the queue is not ours to end

    # --- calls --------------------------------------------------------------------------------

    def _list(self, prefix: str) -> list[dict]:
        """Every job of the queue whose name starts with `prefix`, in every status: one call
        (and its pages); with a filter, list_jobs ignores jobStatus and lists them all."""
        return self._pages("list_jobs", "jobSummaryList", jobQueue=self.queue,
                           filters=[{"name": "JOB_NAME", "values": [f"{prefix}*"]}])

    def _pages(self, operation: str, key: str, **params: Any) -> list[dict]:
        items: list[dict] = []
        token = None
        while True:
            page = self._call("batch", operation, **params,
                              **({"nextToken": token} if token else {}))
            items += page.get(key, [])
            token = page.get("nextToken")
            if not token:
                return items

    def _call(self, service: str, operation: str, **params: Any) -> dict:
        client = self._client(service)
        try:
            return getattr(client, operation)(**params)
        except Exception as exc:  # botocore's errors, imported lazily with boto3
            if type(exc).__module__.split(".")[0] not in ("botocore", "boto3", "urllib3"):
                raise
            raise RunnerError(f"AWS {service} {operation}: {exc}") from None

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                import boto3  # type: ignore[import-untyped]
                from botocore.config import Config  # type: ignore[import-untyped]
            except ImportError:
                raise RunnerError("runner: batch needs boto3 on the control machine: "
                                  "pip install 'task-orchestrator[batch]'") from None
            # Every call is bounded: a silent endpoint must not hang a heartbeat tick.
            config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                            retries={"max_attempts": ATTEMPTS, "mode": "standard"})
            try:
                self._clients[service] = boto3.client(service, region_name=self.region,
                                                      endpoint_url=self.endpoint, config=config)
            except Exception as exc:  # no region, a malformed endpoint
                raise RunnerError(f"AWS {service}: {exc}") from None
        return self._clients[service]

    def _run_dir(self, task: str) -> Path:
        # log_of gives <work dir>/logs/<task>.log; the attempt's files are in <work dir>/runs.
        return self.log_of(session_prefix(self.key) + task).parent.parent / "runs" / task

    def _ids_file(self, name: str) -> Path:
        session, attempt = NAME.fullmatch(name).groups()  # type: ignore[union-attr]
        task = session[len(session_prefix(self.key)):]
        return self._run_dir(task) / f"attempt-{attempt}.batch.json"


def _attempt(argv: list[str]) -> int:
    """The attempt number, from the job ref the shipped command fetches (ship.command)."""
    match = ATTEMPT_REF.search(argv[-1]) if argv else None
    if not match:
        raise RunnerError("runner: batch runs only taskorch's shipped job command "
                          f"(ship.command), not {argv[:2]!r}")
    return int(match.group(1))


def _order(job: dict) -> tuple[int, int]:
    """Newest first by creation; the attempt number breaks a tie."""
    match = NAME.fullmatch(job["jobName"])
    return job.get("createdAt", 0), int(match.group(2)) if match else 0


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    from taskorch.layout import write_atomic
    write_atomic(path, json.dumps(data, indent=2))
