"""AWS Batch request shapes (issue 11): the skill's ECS-to-Batch conversion field by field, and
every request checked against botocore's own Batch service model, with no network."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator

from taskorch.errors import TaskorchError
from taskorch.runners.batch_shapes import (BatchShapeError, container_properties, job_name,
                                           register_request, submit_request)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "aws" / "ecs_task_definition.json"
MODEL = botocore.session.get_session().get_service_model("batch")


def task_definition() -> dict:
    """describe_task_definition()["taskDefinition"] of a two-container task (agent + log router)."""
    return json.loads(FIXTURE.read_text())["taskDefinition"]


def enum_errors(value, shape, path: str = "") -> list[str]:
    """ParamValidator checks names, types and required members but not enums; Batch does."""
    if shape.type_name == "structure":
        return [e for k, v in value.items()
                for e in enum_errors(v, shape.members[k], f"{path}.{k}")]
    if shape.type_name == "list":
        return [e for i, v in enumerate(value)
                for e in enum_errors(v, shape.member, f"{path}[{i}]")]
    if shape.type_name == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} not in {shape.enum}"]
    return []


def assert_valid(operation: str, params: dict) -> None:
    shape = MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    assert not enum_errors(params, shape)


def test_conversion_field_by_field():
    td = task_definition()
    agent = td["containerDefinitions"][0]
    props = container_properties(td)
    assert props["image"] == agent["image"]
    assert props["command"] == ["/usr/bin/tini", "--", "python3", "-m", "agent"]
    # cpu 2048 is 2 vCPUs; the container's hard memory wins over its reservation and the task's.
    assert props["resourceRequirements"] == [{"type": "VCPU", "value": "2"},
                                             {"type": "MEMORY", "value": "4096"}]
    for key in ("environment", "secrets", "mountPoints", "ulimits", "user", "privileged",
                "readonlyRootFilesystem", "logConfiguration", "repositoryCredentials"):
        assert props[key] == agent[key], key
    assert props["linuxParameters"] == {
        "initProcessEnabled": True, "sharedMemorySize": 256,
        "devices": [{"hostPath": "/dev/fuse", "containerPath": "/dev/fuse",
                     "permissions": ["READ", "WRITE"]}],
        "tmpfs": [{"containerPath": "/tmp", "size": 512, "mountOptions": ["rw"]}]}
    assert props["jobRoleArn"] == td["taskRoleArn"]
    assert props["executionRoleArn"] == td["executionRoleArn"]
    # Dropped: ECS-only fields and everything of the second container (the log router).
    assert set(props) == {"image", "command", "resourceRequirements", "environment", "secrets",
                          "mountPoints", "ulimits", "user", "privileged",
                          "readonlyRootFilesystem", "logConfiguration", "repositoryCredentials",
                          "linuxParameters", "jobRoleArn", "executionRoleArn"}
    assert "fluent-bit" not in json.dumps(props)
    # The caller's task definition is left as it was.
    assert td == task_definition()


@pytest.mark.parametrize("change, vcpu, memory", [
    ({"cpu": 256}, "0.25", "4096"),
    ({"cpu": 1536, "memory": None}, "1.5", "2048"),             # memoryReservation
    ({"cpu": 0, "memory": None, "memoryReservation": None}, "4", "8192"),  # the task's
])
def test_resources_fall_back(change, vcpu, memory):
    td = task_definition()
    agent = td["containerDefinitions"][0]
    for key, value in change.items():
        if value is None:
            del agent[key]
        else:
            agent[key] = value
    assert container_properties(td)["resourceRequirements"] == [
        {"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]


def test_minimal_container_converts():
    td = {"family": "bare", "cpu": "1024", "memory": "2048",
          "containerDefinitions": [{"name": "a", "image": "busybox"}]}
    assert container_properties(td) == {
        "image": "busybox",
        "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                 {"type": "MEMORY", "value": "2048"}]}


@pytest.mark.parametrize("td, says", [
    ({"taskDefinitionArn": "arn:x:agent:1", "containerDefinitions": []}, "no containerDefinitions"),
    ({"family": "agent"}, "no containerDefinitions"),
    ({"family": "agent", "containerDefinitions": [{"name": "a", "cpu": 1024, "memory": 1}]},
     "'a' has no image"),
    ({"family": "agent", "containerDefinitions": [{"name": "a", "image": "x", "memory": 1}]},
     "no cpu"),
    ({"family": "agent", "cpu": "1 vCPU",
      "containerDefinitions": [{"image": "x", "memory": 1}]},
     "'1 vCPU', not a number"),
])
def test_bad_task_definitions_say_what_is_wrong(td, says):
    with pytest.raises(BatchShapeError, match=says) as caught:
        container_properties(td)
    assert isinstance(caught.value, TaskorchError)


def test_register_request_is_valid_and_tagged():
    request = register_request("taskorch-agent", task_definition())
    assert_valid("RegisterJobDefinition", request)
    assert request["type"] == "container"
    assert request["tags"] == {"taskorch": task_definition()["taskDefinitionArn"]}
    assert request["containerProperties"] == container_properties(task_definition())


def test_submit_request_merges_overrides():
    manifest_overrides = {"environment": [{"name": "LOG_LEVEL", "value": "debug"},
                                          {"name": "TASKORCH_TASK", "value": "theirs"}],
                          "resourceRequirements": [{"type": "MEMORY", "value": "16384"}],
                          "instanceType": "m7i.xlarge"}
    before = copy.deepcopy(manifest_overrides)
    request = submit_request("to-0123abcd-fix-login-a2", "agents", "taskorch-agent:2",
                             ["python3", "wrapper.py", "--task", "fix-login"],
                             {"TASKORCH_TASK": "fix-login", "TASKORCH_ATTEMPT": "2"},
                             {"taskorch": "0123abcd", "task": "fix-login"}, manifest_overrides)
    assert_valid("SubmitJob", request)
    overrides = request["containerOverrides"]
    assert overrides["command"] == ["python3", "wrapper.py", "--task", "fix-login"]
    # The manifest's variables stay, taskorch's win a shared name.
    assert overrides["environment"] == [{"name": "LOG_LEVEL", "value": "debug"},
                                        {"name": "TASKORCH_TASK", "value": "fix-login"},
                                        {"name": "TASKORCH_ATTEMPT", "value": "2"}]
    assert overrides["resourceRequirements"] == [{"type": "MEMORY", "value": "16384"}]
    assert overrides["instanceType"] == "m7i.xlarge"
    assert request["retryStrategy"] == {"attempts": 1}
    assert request["tags"] == {"taskorch": "0123abcd", "task": "fix-login"}
    assert (request["jobName"], request["jobQueue"], request["jobDefinition"]) == (
        "to-0123abcd-fix-login-a2", "agents", "taskorch-agent:2")
    assert manifest_overrides == before


def test_submit_request_without_manifest_overrides():
    request = submit_request("j", "q", "d", ["true", "x"], {}, {}, None)
    assert_valid("SubmitJob", request)
    assert request["containerOverrides"] == {"environment": [], "command": ["true", "x"]}


def test_a_manifest_command_override_is_refused():
    with pytest.raises(BatchShapeError, match="container_overrides.command"):
        submit_request("j", "q", "d", ["true"], {}, {}, {"command": ["bash"]})


def test_the_model_check_catches_bad_shapes():
    """The check itself bites: a misspelt field, a wrong type, and an enum Batch refuses."""
    shape = MODEL.operation_model("SubmitJob").input_shape
    bad = submit_request("j", "q", "d", ["true"], {}, {}, {"enviroment": []})
    assert ParamValidator().validate(bad, shape).has_errors()
    bad = submit_request("j", "q", "d", ["true"], {"N": 1}, {}, {})  # type: ignore[dict-item]
    assert ParamValidator().validate(bad, shape).has_errors()
    bad = submit_request("j", "q", "d", ["true"], {}, {},
                         {"resourceRequirements": [{"type": "vcpu", "value": "1"}]})
    assert enum_errors(bad, shape)


def test_job_names():
    name = job_name("0123abcd", "fix-login_2", 3)
    assert name == "to-0123abcd-fix-login_2-a3" == job_name("0123abcd", "fix-login_2", 3)
    assert job_name("0123abcd", "x" * 63, 999) and len(job_name("0123abcd", "x" * 63, 999)) <= 128
    assert_valid("SubmitJob", submit_request(name, "q", "d", ["true"], {}, {}))
    with pytest.raises(BatchShapeError, match="not 1-128 letters"):
        job_name("0123abcd", "fix login", 1)
    with pytest.raises(BatchShapeError):
        job_name("0123abcd", "x" * 130, 1)
