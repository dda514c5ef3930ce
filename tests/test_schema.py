"""One declared schema (lib/taskorch/schema.py) drives validation, the README's reference tables,
the defaults of Manifest, Task and agent profiles, and a JSON Schema (issue 10)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from taskorch import agents, manifest, schema
from taskorch.yamlsource import parse

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "bad_manifests"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
README = ROOT / "README.md"


# ---------------------------------------------------------------------------------------------
# The table itself.


def test_every_key_at_every_level_is_declared_once_with_help():
    assert set(schema.FIELDS) == set(schema.LEVELS)
    for level, table in schema.FIELDS.items():
        assert table, level
        for name, f in table.items():
            assert f.name == name and f.level == level
            assert f.help and f.help[0].islower() and not f.help.endswith("."), (level, name)
            assert f.kind.check is not None
            assert not (f.required and f.default is not None), (level, name)


def test_validation_reads_its_tables_from_the_schema():
    assert manifest.TOP_FIELDS is schema.TOP and manifest.TASK_FIELDS is schema.TASK
    assert manifest.PHASE_FIELDS is schema.PHASE and manifest.AGENT_FIELDS is schema.AGENT
    assert manifest.RUNTIME_FIELDS == ("status", "worktree", "tmuxSession", "startedAt",
                                       "lastProgress", "completedAt", "prNumber")
    assert (manifest.DEFAULT_WORKDIR, manifest.DEFAULT_AGENT, manifest.DEFAULT_MAX_PARALLEL) == \
        (".orchestrator", "codex", 4)


def test_manifest_and_task_defaults_are_the_schemas(tmp_path):
    path = tmp_path / "orchestrator.yaml"
    path.write_text("repo: demo\nphases:\n  - tasks:\n      - id: t1\n")
    m = manifest.load(path)
    computed = {"path", "project", "repo", "workdir", "phases", "agents", "labels"}
    for f in schema.TOP.values():
        if f.attribute not in computed:
            assert getattr(m, f.attribute) == f.default, f.name
    assert m.workdir == (tmp_path / schema.TOP["workdir"].default).resolve()
    assert m.phases[0].name == "Phase 1" and m.agents == {} and m.labels == {}
    # the dataclasses' own defaults (for code that builds them directly) are the same values
    declared = {f.name: f.default for f in dataclasses.fields(manifest.Manifest)}
    for f in schema.TOP.values():
        if f.attribute in declared and f.attribute not in computed:
            assert declared[f.attribute] == f.default, f.name
    [task] = m.tasks
    for f in schema.TASK.values():
        if f.attribute in {"id", "title"} or f.runtime or f.name == "description":
            continue
        default = f.default if not isinstance(f.default, list) else tuple(f.default)
        assert getattr(task, f.attribute) == default, f.name


def test_agent_profiles_take_their_keys_and_defaults_from_the_schema():
    profile_keys = [f.name for f in dataclasses.fields(agents.AgentProfile) if f.name != "name"]
    assert [k for k in schema.AGENT if k != "extends"] == profile_keys
    bare = agents.profile_from_manifest("mine", {"command": ["x"], "answers": [{"match": "y"}]})
    assert (bare.stdin, bare.interactive, bare.model_args, bare.env) == (False, False, (), {})
    assert bare.answers == (agents.Answer("y", "", ("Enter",)),)
    extended = agents.profile_from_manifest("mine", {"extends": "codex", "stdin": True})
    codex = agents.BUILTIN["codex"]
    assert extended.command == codex.command and extended.waiting == codex.waiting
    assert extended.stdin is True


def test_a_hint_from_the_schema_names_what_to_give(tmp_path):
    path = tmp_path / "orchestrator.yaml"
    path.write_text("repo: demo\nworkdir: ''\nphases:\n  - tasks:\n      - id: t1\n")
    with pytest.raises(manifest.ManifestError) as info:
        manifest.load(path)
    assert any(e.endswith("workdir: must not be empty; give a directory path")
               for e in info.value.errors), info.value.errors


# ---------------------------------------------------------------------------------------------
# Branch names: two tasks may not share one.


def test_tasks_whose_branches_clash_are_an_error(tmp_path):
    path = tmp_path / "orchestrator.yaml"
    path.write_text("repo: demo\nphases:\n  - tasks:\n"
                    "      - {id: a-b, title: c}\n"
                    "      - {id: a, title: b c}\n"
                    "      - {id: t7, issue: 7, title: Fix it}\n"
                    "      - {id: t8, issue: 8, title: Fix it}\n")
    with pytest.raises(manifest.ManifestError) as info:
        manifest.load(path)
    [error] = info.value.errors  # t7 and t8: a different issue is a different branch
    assert error.endswith(":5: phases[0].tasks[1].title: branch task/a-b-c is also task a-b's; "
                          "give each task its own id or title"), error


# ---------------------------------------------------------------------------------------------
# The README's tables are the generated ones.


def test_the_readme_reference_is_what_the_schema_generates():
    text = README.read_text(encoding="utf-8")
    assert text.count("<!-- schema:begin") == 1 and text.count(schema.END) == 1
    block = text[text.index("<!-- schema:begin"):text.index(schema.END) + len(schema.END)]
    assert block == schema.readme_block(), (
        "README.md's manifest reference differs from lib/taskorch/schema.py; "
        "run: python -m taskorch.schema --readme README.md")


def test_the_reference_names_every_key():
    text = schema.markdown()
    for level, table in schema.FIELDS.items():
        for name in table:
            assert f"| `{name}` |" in text, (level, name)


def test_the_readme_is_regenerated_by_the_command_line(tmp_path):
    stale = tmp_path / "README.md"
    stale.write_text("# x\n\nbefore\n\n<!-- schema:begin -->\nold\n<!-- schema:end -->\n\nafter\n")
    command = [sys.executable, "-m", "taskorch.schema", "--readme", str(stale)]
    assert subprocess.run(command + ["--check"], capture_output=True).returncode == 1
    assert subprocess.run(command, capture_output=True).returncode == 0
    assert stale.read_text() == f"# x\n\nbefore\n\n{schema.readme_block()}\n\nafter\n"
    assert subprocess.run(command + ["--check"], capture_output=True).returncode == 0


# ---------------------------------------------------------------------------------------------
# The JSON Schema.


def _objects(node, where="#"):
    """Every object schema (one with properties) in the JSON Schema."""
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{where}/{i}")


def test_the_json_schema_rejects_unknown_keys_at_every_level():
    doc = schema.json_schema()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    objects = dict(_objects(doc))
    assert set(objects) == {"#"} | {f"#/$defs/{level}" for level in schema.LEVELS[1:]}
    for where, node in objects.items():
        assert node["additionalProperties"] is False, where
        level = "top" if where == "#" else where.rsplit("/", 1)[1]
        assert list(node["properties"]) == list(schema.FIELDS[level]), where
        for name, prop in node["properties"].items():
            assert prop["description"].startswith(schema.FIELDS[level][name].help)


def test_the_json_schema_has_the_enums_minimums_and_required_keys():
    doc = schema.json_schema()
    top, task = doc["properties"], doc["$defs"]["task"]["properties"]
    assert top["sameFile"]["enum"] == ["serialize", "allow"]
    assert top["merge"]["enum"] == ["manual", "auto"] and top["merge"]["default"] == "manual"
    assert "default" not in top["forge"] and top["forge"]["description"].endswith(
        "(default: github when repo is owner/name, else git)")
    assert top["max_parallel"]["minimum"] == 1 and top["max_parallel"]["type"] == "integer"
    assert top["stall_minutes"]["exclusiveMinimum"] == 0
    assert top["retry_backoff_seconds"]["minimum"] == 0
    assert task["issue"]["minimum"] == 1
    assert task["status"]["enum"] == [*manifest.STATES, None]
    assert doc["$defs"]["agent"]["properties"]["extends"]["enum"] == list(agents.BUILTIN)
    assert doc["required"] == ["repo", "phases"]
    assert doc["$defs"]["task"]["required"] == ["id"]
    assert doc["$defs"]["agent"]["anyOf"] == [{"required": ["command"]},
                                              {"required": ["extends"]}]


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema.json_schema())
    return cls(schema.json_schema(), format_checker=cls.FORMAT_CHECKER)


def _data(path: Path):
    source = parse(path.read_text(encoding="utf-8"), path.name)
    return source, source.data


def test_good_manifests_are_valid_against_the_json_schema(tmp_path):
    validator = _validator()
    profile = tmp_path / "orchestrator.yaml"
    profile.write_text(
        "repo: acme/service\nagent: mine\nforge: github\nlabels: {bug: Phase 1}\n"
        "created: 2026-01-17\nstall_minutes: 0.5\nhook: false\n"
        "agents:\n  mine:\n    extends: codex\n    stdin: true\n    env: {A: b}\n"
        "    answers: [{match: 'Trust\\?', send: y, keys: [Enter, Tab]}]\n"
        "  other: {command: [x, '{prompt_file}'], waiting: ['^> $']}\n"
        "phases:\n  - name: One\n    tasks:\n"
        "      - {id: t1, issue: 3, files: [a.py], body: do it, status: running, prNumber: 4}\n"
        "      - {id: t2, dependsOn: [t1], description: also, agent: other, model: null}\n")
    good = [ROOT / "orchestrator.yaml", FIXTURES / "skill_generic.json",
            FIXTURES / "skill_security.json", profile]
    for path in good:
        manifest.load(path)  # taskorch accepts it ...
        source, data = _data(path)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(data)]
        assert not errors, (path.name, errors)  # ... and so does the JSON Schema


# Problems of one value's shape: an unknown or missing key, a wrong type, a value outside its
# enum, its minimum or its pattern. The others (syntax, dependencies, cycles, branches, agents
# that are not defined, prompts on disk, placeholders, files outside the repository, YAML
# pitfalls) need more than a JSON Schema can say.
STRUCTURAL = re.compile(
    r": (unknown key|missing required key|must be (a |an |one of|true or false|a whole number)|"
    r"must not be empty|is empty; give|must name a program|must be a non-empty path|"
    r"'.*' cannot become a branch|give either 'body' or 'description'|"
    r"the manifest must be a mapping|is empty; add|pattern .* is not a valid regular expression)")


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".json"))


def _expected(path: Path) -> str:
    if path.suffix == ".json":
        return path.with_name(path.name + ".expect").read_text(encoding="utf-8").strip("\n")
    return path.read_text(encoding="utf-8").split("\n", 1)[0][len("# expect: "):]


STRUCTURAL_CASES = [p for p in _corpus() if STRUCTURAL.search(_expected(p))
                    and "key 1 must be a string" not in _expected(p)]


def test_the_structural_corpus_is_most_of_it():
    names = {p.name[:3] for p in STRUCTURAL_CASES}
    assert len(names) >= 40, sorted(names)
    for number in ("011", "013", "014", "015", "016", "020", "023", "024", "054", "061", "079"):
        assert number in names


@pytest.mark.parametrize("path", STRUCTURAL_CASES, ids=lambda p: p.name)
def test_structural_bad_manifests_are_rejected_by_the_json_schema(path: Path):
    validator = _validator()
    source, data = _data(path)
    assert not source.errors, source.errors  # only YAML that parses is in this set
    assert not validator.is_valid(data), f"{path.name}: the JSON Schema accepts it"


def test_the_json_schema_says_what_the_checks_say_about_blank_and_nul_names():
    validator = _validator()
    base = {"phases": [{"tasks": [{"id": "t1"}]}]}
    assert validator.is_valid({**base, "repo": "acme/x"})
    for repo in ("", "  ", "a\0b", None, 3):
        assert not validator.is_valid({**base, "repo": repo}), repr(repo)
    assert not validator.is_valid({**base, "repo": "x", "phases": [{"tasks": [{"id": "a.b"}]}]})
