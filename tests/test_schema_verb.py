"""`doit schema` (issue 13): the manifest's JSON Schema (draft 2020-12) from the one schema, the
committed copy the shipped example's modeline names, and what the `jsonschema` package makes of
the example, the skill's two example manifests and the bad-manifest corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from taskorch import manifest, schema
from taskorch.commands import schema as schema_verb
from taskorch.yamlsource import parse

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "bad_manifests"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
COMMITTED = ROOT / schema_verb.COMMITTED
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)

# The corpus's faults that no JSON Schema can express, each with why: the schema accepts these
# manifests and `doit plan` rejects them. Any other bad manifest that parses must be rejected by
# the schema too, including absolute and home paths in `files` and `prompt` and unknown
# placeholders in `command` and `model_args` (033, 035, 048, 062, 069, 078: patterns).
NOT_EXPRESSIBLE = {
    "026": "duplicate ids: uniqueness of a key across every phase's tasks",
    "028": "dependsOn names a task that does not exist: a cross-reference",
    "029": "a task depends on itself: a cross-reference",
    "030": "a dependency cycle",
    "031": "a dependency cycle",
    "032": "a dependency on a task of a later phase: a cross-reference",
    "034": "a file path that escapes the repository once '..' is resolved",
    "044": "an agent that is neither built in nor under agents: a cross-reference",
    "045": "an agent that is neither built in nor under agents: a cross-reference",
    "050": "a prompt template outside prompts/ once '..' is resolved",
    "051": "a prompt template missing on disk",
    "053": "dependsOn names a task that does not exist: a cross-reference",
    "073": "an agent that is neither built in nor under agents: a cross-reference",
    "076": "a YAML merge key making a dependency on a task that does not exist",
    "082": "two tasks whose branch names clash: computed from issue and title",
    "084": "hooks that need {hook_args} in a command the profile may inherit (extends)",
    "087": "an interactive agent under a remote runner: the profile's mode is the agent's",
}
def _validator():
    cls = jsonschema.Draft202012Validator
    doc = json.loads(schema_verb.text())
    cls.check_schema(doc)
    return cls(doc, format_checker=cls.FORMAT_CHECKER)


def test_doit_schema_prints_the_json_schema_even_where_the_manifest_is_broken(control):
    control.write("repo: demo\nphases: [\n")  # a person writing a manifest is who asks
    result = control.doit("schema")
    assert result.stdout == schema_verb.text() + "\n"
    doc = json.loads(result.stdout)
    assert doc == schema.json_schema()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["additionalProperties"] is False  # unknown keys are rejected
    jsonschema.Draft202012Validator.check_schema(doc)
    assert not (control.workdir / "state.db").exists()  # it ran nothing


def test_the_committed_schema_is_what_doit_schema_prints():
    assert COMMITTED.read_text(encoding="utf-8") == schema_verb.text() + "\n", (
        f"{schema_verb.COMMITTED} differs from the schema; run: python -m doit schema > "
        f"{schema_verb.COMMITTED}")


def test_the_shipped_example_names_the_committed_schema_in_its_modeline():
    example = ROOT / "orchestrator.yaml"
    [target] = MODELINE.findall(example.read_text(encoding="utf-8"))
    assert (example.parent / target).resolve() == COMMITTED.resolve()


@pytest.mark.parametrize("path", [ROOT / "orchestrator.yaml", FIXTURES / "skill_generic.json",
                                  FIXTURES / "skill_security.json"], ids=lambda p: p.name)
def test_the_example_and_the_skills_manifests_are_valid(path: Path):
    # the skill's two example manifests (its generic and security-audit ones) are kept in
    # tests/fixtures as the skill ships them
    manifest.load(path)
    source = parse(path.read_text(encoding="utf-8"), path.name)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _validator().iter_errors(source.data)]
    assert not errors, errors


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".json"))


def test_every_bad_manifest_with_an_expressible_fault_is_rejected():
    validator = _validator()
    accepted, unparsed = set(), set()
    for path in _corpus():
        source = parse(path.read_text(encoding="utf-8"), path.name)
        if source.errors:
            unparsed.add(path.name[:3])  # YAML that does not parse: no document to validate
            continue
        with pytest.raises(manifest.ManifestError):
            manifest.load(path)  # taskorch rejects them all
        if validator.is_valid(source.data):
            accepted.add(path.name[:3])
    listed = set(NOT_EXPRESSIBLE)
    assert accepted == listed, (f"accepted by the schema but not listed: "
                                f"{sorted(accepted - listed)}; listed but rejected now: "
                                f"{sorted(listed - accepted)}")
    assert unparsed >= {"001", "002", "003", "068"}
    assert len(_corpus()) - len(accepted) - len(unparsed) >= 40
