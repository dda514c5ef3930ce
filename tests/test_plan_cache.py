"""The plan cache (plancache.py): a second load does not parse again, and an edited manifest,
an edited prompt set, other code or a corrupt cache file never yields a stale or wrong plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from taskorch import manifest as manifests, plancache
from taskorch.dodo import needs_subtasks
from taskorch.manifest import ManifestError
from taskorch.project import Project

ROOT = Path(__file__).parent.parent


def tasks(n: int) -> list[dict]:
    return [{"id": f"t{i}", "title": f"task {i}", "files": [f"src/m{i % 3}.py"],
             **({"dependsOn": [f"t{i - 1}"]} if i % 4 and i > 1 else {})} for i in range(1, n + 1)]


def write(root: Path, phase_tasks: list[dict], **top) -> Path:
    data = {"project": "cache", "repo": "demo", "agent": "demo", **top,
            "phases": [{"name": "One", "tasks": phase_tasks}]}
    path = root / "orchestrator.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def here(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    monkeypatch.chdir(tmp_path)  # error messages name the file as typed from here
    return tmp_path


@pytest.fixture
def parses(monkeypatch):
    """How many times the YAML parser ran."""
    calls = []
    real = manifests.parse

    def counting(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("name"))
        return real(*args, **kwargs)

    monkeypatch.setattr(manifests, "parse", counting)
    return calls


def test_a_second_load_comes_from_the_cache(here, parses):
    path = write(here, tasks(12))
    first = Project.load(path, store=True)
    assert len(parses) == 1
    assert (here / ".orchestrator" / "plan.cache").is_file()
    again = Project.load(path)
    assert len(parses) == 1  # not parsed again
    assert [t.id for t in again.manifest.tasks] == [t.id for t in first.manifest.tasks]
    assert again.plan.waits == first.plan.waits
    assert again.plan.launch_order() == first.plan.launch_order()
    assert again.manifest.task("t7") == first.manifest.task("t7")
    assert again.views() == first.views()


def test_no_work_directory_no_cache_file(here, parses):
    path = write(here, tasks(3))
    Project.load(path)  # in-process use without store=True creates nothing
    Project.load(path)
    assert len(parses) == 2
    assert not (here / ".orchestrator").exists()


def test_an_edited_manifest_is_loaded_again(here, parses):
    path = write(here, tasks(5))
    Project.load(path, store=True)
    write(here, tasks(5) + [{"id": "fresh", "title": "new one", "files": ["src/new.py"],
                                "dependsOn": ["t5"]}])
    project = Project.load(path)
    assert len(parses) == 2
    assert project.manifest.task("fresh").title == "new one"
    assert [w.id for w in project.plan.waits["fresh"]] == ["t5"]
    assert Project.load(path).manifest.task("fresh")  # and that is cached in turn
    assert len(parses) == 2


def test_a_new_error_is_reported_as_without_the_cache(here):
    path = write(here, tasks(5))
    Project.load(path, store=True)
    broken = tasks(5)
    broken[2]["dependsOn"] = ["t99"]
    write(here, broken)
    with pytest.raises(ManifestError) as cached:
        Project.load(path)
    with pytest.raises(ManifestError) as plain:
        manifests.load(path)
    assert cached.value.errors == plain.value.errors
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "t99" in text)
    assert cached.value.errors[0].startswith(f"orchestrator.yaml:{line}: phases[0].tasks[2]"
                                             ".dependsOn[0]: unknown task 't99'")
    write(here, tasks(5))  # fixed again: the old cache fits once more
    assert len(Project.load(path).manifest.tasks) == 5


def test_a_removed_prompt_template_is_reported(here):
    (here / "prompts" / "mine.md.j2").write_text("Do {{ task.title }}\n")
    listed = tasks(3)
    listed[1]["prompt"] = "mine.md.j2"
    path = write(here, listed)
    Project.load(path, store=True)
    (here / "prompts" / "mine.md.j2").unlink()
    with pytest.raises(ManifestError) as caught:
        Project.load(path)
    assert "phases[0].tasks[1].prompt: template prompts/mine.md.j2 not found" in str(caught.value)


@pytest.mark.parametrize("damage", [
    lambda blob: b"garbage",
    lambda blob: blob[:len(blob) // 2],  # torn: right header, half a pickle
    lambda blob: blob[:-40] + b"\x00" * 40,
    lambda blob: b"",
])
def test_a_corrupt_cache_is_ignored_and_rebuilt(here, parses, damage):
    path = write(here, tasks(8))
    Project.load(path, store=True)
    cache = here / ".orchestrator" / "plan.cache"
    cache.write_bytes(damage(cache.read_bytes()))
    project = Project.load(path)
    assert len(parses) == 2
    assert len(project.manifest.tasks) == 8
    assert Project.load(path).manifest.tasks == project.manifest.tasks  # rewritten, whole
    assert len(parses) == 2


def test_a_cache_from_other_code_or_another_place_is_not_used(here, parses, monkeypatch,
                                                              tmp_path_factory):
    path = write(here, tasks(4))
    Project.load(path, store=True)
    real = plancache.code_stamp
    monkeypatch.setattr(plancache, "code_stamp", lambda: real() + b"edited")
    Project.load(path)
    assert len(parses) == 2
    monkeypatch.setattr(plancache, "code_stamp", real)
    elsewhere = tmp_path_factory.mktemp("copy")  # a copied here directory, cache and all
    shutil.copytree(here, elsewhere, dirs_exist_ok=True)
    moved = Project.load(elsewhere / "orchestrator.yaml")
    assert moved.manifest.path == (elsewhere / "orchestrator.yaml").resolve()
    assert moved.layout.root == (elsewhere / ".orchestrator").resolve()


def test_a_workdir_elsewhere_keeps_its_cache_there(here, parses):
    path = write(here, tasks(4), workdir="state/here")
    Project.load(path, store=True)
    assert (here / "state" / "here" / "plan.cache").is_file()
    Project.load(path)
    assert len(parses) == 1


@pytest.mark.parametrize("argv, needed", [
    ([], False), (["status"], False), (["status", "--format", "json"], False),
    (["heartbeat"], False), (["plan", "--format", "dot"], False), (["run", "status"], False),
    (["stop", "t1"], False),
    (["launch"], True), (["launch:t1"], True), (["status", "launch"], True), (["list"], True),
    (["list", "--all"], True), (["info", "launch"], True), (["-v", "2", "status"], True),
    (["_done:t1"], True), (["forget"], True),
])
def test_launch_subtasks_only_when_the_command_line_may_use_them(argv, needed):
    assert needs_subtasks(argv) is needed


def test_the_cli_reports_an_edit_to_a_cached_manifest(control):
    control.write({"repo": "demo", "agent": "demo", "phases": [{"name": "P", "tasks": tasks(3)}]})
    control.doit("status")
    control.doit("status")
    assert (control.workdir / "plan.cache").is_file()
    listing = control.doit("list", "--all").stdout
    assert "launch:t3" in listing
    broken = tasks(3)
    broken[1]["files"] = ["/etc/passwd"]
    control.write({"repo": "demo", "agent": "demo", "phases": [{"name": "P", "tasks": broken}]})
    result = control.doit("status", check=False)
    assert result.returncode == 2
    assert "orchestrator.yaml:" in result.stderr
    assert "phases[0].tasks[1].files[0]: '/etc/passwd' is absolute" in result.stderr
    control.write({"repo": "demo", "agent": "demo",
                   "phases": [{"name": "P", "tasks": tasks(3) + tasks(4)[3:]}]})
    assert "t4" in control.doit("status").stdout


def test_gates_are_walked_again_only_when_a_state_or_the_manifest_changed(here, monkeypatch):
    # a heartbeat's cost must follow the running agents: with nothing changed since the last
    # look, the stored pending rows answer and the plan is not walked for every task again
    path = write(here, tasks(6))
    walks = []
    original = Project.record_gates
    monkeypatch.setattr(Project, "record_gates", lambda self: walks.append(1) or original(self))
    first = Project.load(path)
    assert "t1" in first.startable() and "t2" not in first.startable()
    again = Project.load(path)
    assert again.startable() == first.startable() and len(walks) == 1
    again.store.transition("t1", "skipped", "by hand", event="skipped_by_hand")
    assert "t2" in Project.load(path).startable() and len(walks) == 2
    write(here, tasks(6) + [{"id": "t7", "title": "new", "files": ["x"]}])
    assert "t7" in Project.load(path).startable() and len(walks) == 3
