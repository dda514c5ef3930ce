"""`runner: batch` contract tests (issue 11) against moto in server mode: a real local HTTP
stand-in of the AWS API on 127.0.0.1, one per test module (per xdist worker), counted call by
call from its request log.

What moto 5.2 cannot show: with Batch's `use_docker: false` a job is SUCCEEDED the moment it is
submitted, without running anything, so no work ever arrives and no job is ever RUNNING.
Terminate and adoption of a live job use a second stand-in whose jobs stay active for a few
seconds (MOTO_SIMPLE_BATCH_FAIL_AFTER: the submit call itself sleeps, then the job FAILS with no
exit code). No stand-in gives a FAILED job a container exit code or paginates list_jobs.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from conftest import manifest, wait_for  # noqa: E402

from taskorch.runners import batch, ship  # noqa: E402
from taskorch.runners.base import RunnerError, session_name  # noqa: E402
from taskorch.runners.batch import STOP_REASON, BatchRunner  # noqa: E402

# One worker runs them all, so one stand-in of AWS starts, not one per worker (--dist loadgroup).
pytestmark = [pytest.mark.batch, pytest.mark.xdist_group("aws-stand-in")]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "aws" / "ecs_task_definition.json"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
FAIL_AFTER = 2  # seconds a job of the slow stand-in stays active (its submit call sleeps them)


class StandIn:
    """A moto server subprocess with an ECS cluster, IAM role, compute environment, job queue
    and task definition made through boto3, as a user's AWS account would have them."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"moto-{self.port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"), stdin=subprocess.DEVNULL,
            env={**os.environ, **CREDENTIALS, **env})
        wait_for(self._up, timeout=30, what="moto server")
        self._post("/moto-api/config", {"batch": {"use_docker": False}})
        self.batch, self.ecs, self.logs = (self.client(s) for s in ("batch", "ecs", "logs"))
        role = self.client("iam").create_role(RoleName="batch", AssumeRolePolicyDocument="{}")
        self.ecs.create_cluster(clusterName="agents")
        env_arn = self.batch.create_compute_environment(
            computeEnvironmentName="agents-ce", type="UNMANAGED", state="ENABLED",
            serviceRole=role["Role"]["Arn"])["computeEnvironmentArn"]
        self.batch.create_job_queue(jobQueueName="agents", state="ENABLED", priority=1,
                                    computeEnvironmentOrder=[{"order": 1,
                                                              "computeEnvironment": env_arn}])
        self.task_definition = self.register_task_definition("agent")

    def _up(self) -> bool:
        try:
            urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
            return True
        except OSError:
            assert self.proc.poll() is None, self.log.read_text()
            return False

    def _post(self, path: str, body: dict) -> None:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def register_task_definition(self, family: str, **change: Any) -> str:
        """The fixture's agent and log-router containers, registered under `family`."""
        td = json.loads(FIXTURE.read_text())["taskDefinition"]
        containers = copy.deepcopy(td["containerDefinitions"])
        containers[0].update(change)
        kept = {k: td[k] for k in ("taskRoleArn", "executionRoleArn", "networkMode", "cpu",
                                   "memory", "requiresCompatibilities", "volumes")}
        return self.ecs.register_task_definition(family=family, containerDefinitions=containers,
                                                 **kept)["taskDefinition"]["taskDefinitionArn"]

    def calls(self) -> dict[str, int]:
        """Requests so far by Batch operation, from the server's own request log."""
        counts: dict[str, int] = {}
        for line in self.log.read_text().splitlines():
            if '"POST /v1/' in line:
                op = line.split('"POST /v1/')[1].split()[0]
                counts[op] = counts.get(op, 0) + 1
        return counts

    def stop(self) -> None:
        self.proc.kill()  # a stand-in has nothing to save; it took 10 s and more to honour TERM
        self.proc.wait()


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    stand_in = StandIn(tmp_path_factory.mktemp("aws"), {})
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def slow_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """Jobs stay active for FAIL_AFTER seconds, then FAIL: the only live jobs moto has."""
    stand_in = StandIn(tmp_path_factory.mktemp("aws-slow"),
                       {"MOTO_SIMPLE_BATCH_FAIL_AFTER": str(FAIL_AFTER)})
    yield stand_in
    stand_in.stop()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


class Delta:
    """The Batch calls made to a stand-in since this was made."""

    def __init__(self, stand_in: StandIn) -> None:
        self.stand_in, self.before = stand_in, stand_in.calls()

    def __call__(self) -> dict[str, int]:
        time.sleep(0.05)  # the server logs a request just after answering it
        now = self.stand_in.calls()
        return {op: n - self.before.get(op, 0) for op, n in now.items()
                if n != self.before.get(op, 0)}


def make_runner(stand_in: StandIn, work: Path, **options: Any) -> BatchRunner:
    key = uuid.uuid4().hex[:8]  # every test its own project: its jobs never meet another's
    prefix = session_name(key, "")
    return BatchRunner(key, lambda session: work / "logs" / f"{session[len(prefix):]}.log",
                       {"kind": "batch", "job_queue": "agents", "cluster": "agents",
                        "task_definition": stand_in.task_definition,
                        "endpoint_url": stand_in.url, "region": REGION, **options})


def twin(runner: BatchRunner, stand_in: StandIn) -> BatchRunner:
    """The same project's runner in another process: nothing of the first one's memory."""
    return BatchRunner(runner.key, runner.log_of, {
        "kind": "batch", "job_queue": "agents", "cluster": "agents",
        "task_definition": stand_in.task_definition, "endpoint_url": stand_in.url})


JOB = "0123456789abcdef0123456789abcdef01234567"  # the job ref's commit (ship.publish)


def launch(runner: BatchRunner, task: str, attempt: int = 1) -> tuple[str, str]:
    """Start the task's attempt as launch.py does; returns (session, job id)."""
    session = session_name(runner.key, task)
    argv = ship.command("https://git.example/repo.git", JOB, ship.job_ref(task, attempt))
    log = runner.log_of(session)
    return session, runner.start(session, argv, log.parent.parent / "worktrees" / task, log)


def described(stand_in: StandIn, job_id: str) -> dict:
    return stand_in.batch.describe_jobs(jobs=[job_id])["jobs"][0]


def test_the_job_definition_is_registered_from_the_task_definition_and_reused(aws, tmp_path):
    arn = aws.register_task_definition("reg")
    runner = make_runner(aws, tmp_path, task_definition=arn)
    calls = Delta(aws)
    _, job_id = launch(runner, "t1")
    name = described(aws, job_id)["jobDefinition"].split("/")[-1]
    definition = aws.batch.describe_job_definitions(jobDefinitionName="taskorch-reg",
                                                    status="ACTIVE")["jobDefinitions"]
    assert [f"{d['jobDefinitionName']}:{d['revision']}" for d in definition] == [name]
    props, agent = definition[0]["containerProperties"], json.loads(
        FIXTURE.read_text())["taskDefinition"]["containerDefinitions"][0]
    assert props["image"] == agent["image"]
    assert sorted(props["resourceRequirements"], key=lambda r: r["type"]) == [
        {"type": "MEMORY", "value": "4096"}, {"type": "VCPU", "value": "2"}]  # cpu 2048/1024
    assert props["environment"] == agent["environment"]
    assert props["secrets"] == agent["secrets"]
    assert props["jobRoleArn"] == "arn:aws:iam::123456789012:role/agent-task"  # taskRoleArn
    assert props["executionRoleArn"] == "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    assert definition[0]["tags"] == {"taskorch": arn}
    assert calls()["registerjobdefinition"] == 1
    # Another launch (a new process): the same definition, by name and revision, not a third.
    calls = Delta(aws)
    _, other = launch(make_runner(aws, tmp_path, task_definition=arn), "t2")
    assert described(aws, other)["jobDefinition"].endswith(f"/{name}")
    assert "registerjobdefinition" not in calls()
    # A new revision of the task definition is a new revision of the job definition.
    newer = aws.register_task_definition("reg", image="agent:next")
    _, third = launch(make_runner(aws, tmp_path, task_definition=newer), "t3")
    assert described(aws, third)["jobDefinition"].endswith("/taskorch-reg:2")


def test_a_given_job_definition_is_used_as_it_is_and_the_cluster_is_checked(aws, tmp_path):
    made = aws.batch.register_job_definition(
        jobDefinitionName="mine", type="container",
        containerProperties={"image": "mine:1", "resourceRequirements": [
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})
    calls = Delta(aws)
    _, job_id = launch(make_runner(aws, tmp_path, job_definition="mine:1"), "t1")
    assert described(aws, job_id)["jobDefinition"] == made["jobDefinitionArn"]
    assert "registerjobdefinition" not in calls()
    with pytest.raises(RunnerError, match="ECS cluster 'nowhere'"):
        launch(make_runner(aws, tmp_path, cluster="nowhere"), "t2")


def test_the_submit_carries_the_manifests_overrides_and_taskorchs_command(aws, tmp_path):
    overrides = {"environment": [{"name": "LOG_LEVEL", "value": "debug"}],
                 "resourceRequirements": [{"type": "MEMORY", "value": "8192"}]}
    runner = make_runner(aws, tmp_path, container_overrides=overrides)
    sent: list[dict] = []
    runner._client("batch").meta.events.register(
        "provide-client-params.batch.SubmitJob", lambda params, **_: sent.append(params))
    session, job_id = launch(runner, "t1", attempt=3)
    job = described(aws, job_id)
    assert job["jobName"] == f"{session}-a3"
    assert job["container"]["command"] == ship.command("https://git.example/repo.git", JOB,
                                                       "refs/taskorch/t1/a3-job")
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env["LOG_LEVEL"] == "debug" and env["TASKORCH_JOB"] == f"{session}-a3"
    assert job["tags"] == {"taskorch": f"{session}-a3", "taskorch-project": runner.key}
    # What moto does not echo back, from the request itself.
    assert sent[0]["retryStrategy"] == {"attempts": 1}
    assert sent[0]["containerOverrides"]["resourceRequirements"] == overrides[
        "resourceRequirements"]
    assert "cluster" not in json.dumps(sent[0])  # submit_job takes no cluster
    with pytest.raises(RunnerError, match="container_overrides.command"):
        launch(make_runner(aws, tmp_path, container_overrides={"command": ["x"]}), "t2")


def test_a_second_start_of_an_attempt_adopts_its_job(aws, tmp_path):
    runner = make_runner(aws, tmp_path)
    calls = Delta(aws)
    _, first = launch(runner, "t1")
    _, again = launch(twin(runner, aws), "t1")  # a new process, the same project
    assert again == first
    assert calls()["submitjob"] == 1
    kept = json.loads((tmp_path / "runs" / "t1" / "attempt-1.batch.json").read_text())
    assert kept["job_id"] == first
    _, second = launch(runner, "t1", attempt=2)  # the next attempt is a job of its own
    assert second != first


def test_one_status_pass_is_one_list_call_for_every_job(aws, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "DESCRIBE_CHUNK", 4)  # 100 in use: 9 jobs show the chunks
    runner = make_runner(aws, tmp_path)
    ids = dict(launch(runner, f"t{i}") for i in range(9))
    ended = described(aws, ids[session_name(runner.key, "t0")])
    group, stream = "/aws/batch/job", ended["container"]["logStreamName"]
    aws.logs.create_log_group(logGroupName=group)
    aws.logs.create_log_stream(logGroupName=group, logStreamName=stream)
    aws.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": int(time.time() * 1000), "message": m}
        for m in ('TASKORCH-START {"task": "t0"}', "agent said hi", 'TASKORCH-RESULT {"code": 0}')])
    calls = Delta(aws)
    panes = runner.snapshot()
    assert set(panes) == set(ids) and all(p.dead and p.exit_status == 0 for p in panes.values())
    # One list call; the 9 jobs that ended since the last look: 3 describe calls (4 a call).
    assert calls() == {"listjobs": 1, "describejobs": 3}
    log = (tmp_path / "logs" / "t0.log").read_text().splitlines()
    assert log[:3] == ['TASKORCH-START {"task": "t0"}', "agent said hi",
                       'TASKORCH-RESULT {"code": 0}']
    assert "3 lines copied from CloudWatch group /aws/batch/job" in log[3]
    other = (tmp_path / "logs" / "t1.log").read_text()
    assert "could not be read from CloudWatch" in other and "SUCCEEDED" in other
    calls = Delta(aws)
    runner.snapshot()  # ended jobs are described and their logs copied once
    assert calls() == {"listjobs": 1}
    assert (tmp_path / "logs" / "t0.log").read_text().count("agent said hi") == 1


def test_a_live_job_is_adopted_by_name_then_stop_terminates_it(slow_aws, tmp_path):
    runner = make_runner(slow_aws, tmp_path)
    session = session_name(runner.key, "t1")
    calls = Delta(slow_aws)
    first: list[str] = []
    submit = threading.Thread(target=lambda: first.append(launch(runner, "t1")[1]))
    submit.start()  # moto's submit sleeps FAIL_AFTER s: the job is active, its id not kept yet
    pane = wait_for(lambda: runner.snapshot().get(session), timeout=10, what="the job listed")
    assert not pane.dead
    # A launch cut short after submitting has kept no id: the live job is found by its name.
    adopted = launch(twin(runner, slow_aws), "t1")[1]
    started = time.monotonic()
    runner.stop(session)
    assert time.monotonic() - started < FAIL_AFTER + 3
    submit.join(10)
    assert first == [adopted]
    assert calls().get("submitjob") == 1 and calls().get("terminatejob") == 1
    job = described(slow_aws, adopted)
    assert (job["status"], job["statusReason"]) == ("FAILED", STOP_REASON)
    pane = runner.snapshot()[session]
    assert pane.dead and pane.exit_status is None  # no exit code: results.py counts it as 1
    assert "ended FAILED (taskorch: stopped" in (tmp_path / "logs" / "t1.log").read_text()


def test_launch_status_and_stop_through_doit(aws, control, remote):
    control.env.update(CREDENTIALS)
    control.write(manifest([[{"id": "b", "title": "B", "files": ["b.txt"]}]], repo=str(remote),
                           stall_minutes=5, hook=False, runner={
                               "kind": "batch", "job_queue": "agents", "cluster": "agents",
                               "task_definition": aws.task_definition,
                               "endpoint_url": aws.url, "region": REGION}))
    calls = Delta(aws)
    control.doit("launch")
    job = control.status()["b"]["job"]
    assert job and described(aws, job)["jobName"].endswith("-b-a1")
    assert calls()["submitjob"] == 1
    control.doit("launch")  # the task runs (as far as taskorch knows): nothing new is sent
    assert calls()["submitjob"] == 1
    control.doit("stop", "b")
    assert control.status()["b"]["status"] == "stuck"
    # moto's job SUCCEEDED at once, so there was nothing live to terminate.
    assert "terminatejob" not in calls()
