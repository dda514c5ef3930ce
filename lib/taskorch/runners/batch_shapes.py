"""Request shapes for AWS Batch: plain dicts in, boto3 keyword arguments out (issue 11).

Kept apart from the runner so every shape can be checked against botocore's service model with
no network and no engine. The ECS-to-Batch conversion is the skill's, as DESIGN.md ("Beyond one
machine") records it: an allow-list, so ECS fields Batch does not know never reach Batch.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from taskorch.errors import TaskorchError
from taskorch.runners.base import session_name

# Tags every job definition taskorch registers; the value names the task definition it came from.
TAG = "taskorch"

# Copied as they are: ECS and Batch spell these alike.
COPIED = ("environment", "secrets", "mountPoints", "ulimits", "user", "privileged",
          "readonlyRootFilesystem", "logConfiguration", "repositoryCredentials")
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class BatchShapeError(TaskorchError):
    """A task definition or job request that cannot become a valid Batch request."""


def _number(value: Any, what: str, arn: str) -> int | None:
    """An ECS size as an int; ECS gives container sizes as ints and task sizes as strings."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BatchShapeError(f"task definition {arn}: {what} is {value!r}, not a number; "
                              f"give it in CPU units or MiB") from None


def container_properties(task_definition: dict) -> dict:
    """Batch `containerProperties` from ECS `describe_task_definition()["taskDefinition"]`.

    Only the first container is converted: a Batch job runs one container."""
    arn = task_definition.get("taskDefinitionArn") or task_definition.get("family") or "?"
    containers = task_definition.get("containerDefinitions") or []
    if not containers:
        raise BatchShapeError(f"task definition {arn} has no containerDefinitions; "
                              "give runner.task_definition one with the agent's container")
    first = containers[0]
    if not first.get("image"):
        raise BatchShapeError(f"task definition {arn}: container {first.get('name', '0')!r} "
                              "has no image; Batch needs one to run the agent")
    props: dict[str, Any] = {"image": first["image"]}
    # Batch has no entryPoint, only command: run both, in that order, as one argv.
    command = list(first.get("entryPoint") or []) + list(first.get("command") or [])
    if command:
        props["command"] = command
    # ECS container cpu 0 means "a share of the task's", which Batch cannot express: fall back
    # to the task's cpu, as memory falls back to the task's memory.
    cpu = (_number(first.get("cpu"), "cpu", arn) or _number(task_definition.get("cpu"), "cpu", arn))
    memory = (_number(first.get("memory"), "memory", arn)
              or _number(first.get("memoryReservation"), "memoryReservation", arn)
              or _number(task_definition.get("memory"), "memory", arn))
    if not cpu or not memory:
        raise BatchShapeError(f"task definition {arn}: no {'cpu' if not cpu else 'memory'} on its "
                              "first container or the task; Batch needs both to place a job")
    props["resourceRequirements"] = [{"type": "VCPU", "value": f"{cpu / 1024:g}"},
                                     {"type": "MEMORY", "value": str(memory)}]
    props.update({k: copy.deepcopy(first[k]) for k in COPIED if k in first})
    if "linuxParameters" in first:
        # Batch has no capabilities; ECS spells device permissions in lower case, Batch in upper.
        linux = {k: copy.deepcopy(v) for k, v in first["linuxParameters"].items()
                 if k != "capabilities"}
        for device in linux.get("devices", []):
            if "permissions" in device:
                device["permissions"] = [p.upper() for p in device["permissions"]]
        props["linuxParameters"] = linux
    if task_definition.get("taskRoleArn"):
        props["jobRoleArn"] = task_definition["taskRoleArn"]
    if task_definition.get("executionRoleArn"):
        props["executionRoleArn"] = task_definition["executionRoleArn"]
    return props


def register_request(name: str, task_definition: dict) -> dict:
    """RegisterJobDefinition's arguments. The tag names the task definition it came from, so a
    later launch can tell whether a definition of this name is still the one to reuse."""
    source = task_definition.get("taskDefinitionArn") or task_definition.get("family") or ""
    return {"jobDefinitionName": name, "type": "container",
            "containerProperties": container_properties(task_definition),
            "tags": {TAG: source}}


def submit_request(job_name: str, job_queue: str, job_definition: str, command: list[str],
                   environment: dict[str, str], tags: dict[str, str],
                   container_overrides: dict | None = None) -> dict:
    """SubmitJob's arguments: the manifest's `container_overrides` with taskorch's command and
    environment laid over them (taskorch's variable wins a name both give)."""
    overrides = copy.deepcopy(container_overrides or {})
    if "command" in overrides:
        # Dropping it silently would run something the user did not ask for, or not their thing.
        raise BatchShapeError("runner.container_overrides.command: taskorch sets the command "
                              "(its wrapper runs the agent); remove it")
    kept = [e for e in overrides.get("environment", []) if e.get("name") not in environment]
    overrides["environment"] = kept + [{"name": k, "value": v} for k, v in environment.items()]
    overrides["command"] = list(command)
    # taskorch retries an attempt itself, with a new prompt; Batch's own retry would rerun the old.
    return {"jobName": job_name, "jobQueue": job_queue, "jobDefinition": job_definition,
            "containerOverrides": overrides, "retryStrategy": {"attempts": 1},
            "tags": dict(tags)}


def job_name(project_key: str, task_id: str, attempt: int) -> str:
    """`to-<key>-<id>-a<N>`: the session's name plus the attempt, so a `to-<key>-` prefix lists
    this project's jobs in one list_jobs call. Names are not unique in Batch: keep the job ids."""
    name = f"{session_name(project_key, task_id)}-a{attempt}"
    if not JOB_NAME.fullmatch(name):
        raise BatchShapeError(f"Batch job name {name!r} is not 1-128 letters, digits, hyphens "
                              "and underscores; use a task id of [A-Za-z0-9_-], 63 at most")
    return name
