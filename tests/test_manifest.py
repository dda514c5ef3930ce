"""Loading manifests: the skill's own examples, JSON as YAML, runtime fields seeding the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from taskorch import manifest
from taskorch.project import Project

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_skills_generic_example_loads_unchanged():
    m = manifest.load(FIXTURES / "skill_generic.json")
    assert m.project == "project-name" and m.repo == "owner/repo"
    assert m.workdir == Path("/path/to/worktrees")
    assert m.created == "2026-01-17T00:00:00Z" and m.model == "gpt-5.2-codex"
    assert m.model_tier == "high"
    [task] = m.tasks
    assert (task.id, task.issue, task.title, task.files) == ("t1", 1, "Fix X", ("src/foo.js",))
    assert task.runtime == {"status": "pending"}


def test_the_skills_security_example_loads_unchanged():
    m = manifest.load(FIXTURES / "skill_security.json")
    assert [p.name for p in m.phases] == ["Phase 1: Critical", "Phase 2: High"]
    assert [t.id for t in m.tasks] == [f"t{i}" for i in range(1, 9)]
    assert m.task("t8").files == ("container_executor.js", "egress_proxy.js")
    assert m.task("t8").depends_on == ("t7",)
    assert m.task("t4").title == "Issue #4"
    assert (m.base, m.agent, m.max_parallel, m.same_file) == ("main", "codex", 4, "serialize")


def test_tab_indented_json_loads(tmp_path):
    data = json.loads((FIXTURES / "skill_security.json").read_text())
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data, indent="\t"))
    assert [t.id for t in manifest.load(path).tasks] == [f"t{i}" for i in range(1, 9)]


def test_yaml_timestamps_stay_text(tmp_path):
    path = tmp_path / "orchestrator.yaml"
    path.write_text("repo: demo\ncreated: 2026-01-17T00:00:00Z\nphases:\n- tasks:\n  - id: a\n"
                    "    startedAt: 2026-01-18T10:00:00Z\n")
    m = manifest.load(path)
    assert m.created == "2026-01-17T00:00:00Z"
    assert m.tasks[0].runtime == {"startedAt": "2026-01-18T10:00:00Z"}
    assert m.phases[0].name == "Phase 1"


def test_every_error_is_reported_at_once(tmp_path):
    path = tmp_path / "orchestrator.yaml"
    path.write_text("repo: demo\nmax_paralel: 3\nphases:\n- name: one\n  tasks:\n"
                    "  - id: a\n    files: /etc/passwd\n  - id: b\n    dependsOn: [zz]\n")
    with pytest.raises(manifest.ManifestError) as info:
        manifest.load(path)
    errors = info.value.errors
    assert len(errors) == 3
    assert errors[0].endswith("max_paralel: unknown key 'max_paralel'; did you mean 'max_parallel'?")


def test_runtime_fields_seed_the_store_once(tmp_path):
    data = json.loads((FIXTURES / "skill_security.json").read_text())
    data["workdir"] = str(tmp_path / "work")
    data["phases"][0]["tasks"][0].update(status="complete", worktree="/w/t1", tmuxSession="task-t1",
                                         startedAt="2026-01-17T01:00:00Z", prNumber=12)
    path = tmp_path / "orchestrator.json"
    path.write_text(json.dumps(data))
    project = Project.load(path)
    row = project.store.get("t1")
    assert (row.status, row.worktree, row.session, row.pr_number, row.started_at) == (
        "complete", "/w/t1", "task-t1", 12, "2026-01-17T01:00:00Z")
    assert project.views()["t2"].status == "pending"  # t1 complete opens t2
    assert project.views()["t4"].status == "blocked"
    project.store.transition("t1", "pr_open", "test", event="delivered")
    data["phases"][0]["tasks"][0]["status"] = "error"  # the YAML is seed only, not the truth
    path.write_text(json.dumps(data))
    again = Project.load(path)
    assert again.store.get("t1").status == "pr_open"
    assert [e.reason for e in again.store.events("t1")] == ["seeded from the manifest", "test"]


def test_the_example_manifest_is_valid_and_uses_the_demo():
    root = Path(__file__).parent.parent
    m = manifest.load(root / "orchestrator.yaml")
    assert (m.repo, m.agent) == ("demo", "demo")
    assert len(m.tasks) >= 5


def test_a_json_manifest_beside_dodo_is_found(control):
    shutil.copy(FIXTURES / "skill_security.json", control.path / "orchestrator.json")
    assert "nuri-security-framework: 8 tasks" in control.doit("plan").stdout
