"""A corpus of bad manifests, each with the exact error line taskorch must print for it.

Every file in tests/bad_manifests/ is one broken `orchestrator.yaml`. Its first line is a comment
`# expect: <file>:<LINE>: <path.to.field>: <message>` (JSON files, which cannot hold comments,
keep that line in a sidecar `<name>.json.expect`). `taskorch.manifest.load` must reject the file
with ManifestError and that line must be one of `exc.errors`: every problem is reported, so
other lines may follow, but each of them must also be a single `file:LINE: field: message` line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskorch.manifest import ManifestError, load

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "bad_manifests"
ERROR_LINE = re.compile(r"^[^:]+:\d+: \S.*: .+")
EXPECT_PREFIX = "# expect: "



def corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def expected_line(path: Path) -> str:
    if path.suffix == ".json":
        return path.with_name(path.name + ".expect").read_text(encoding="utf-8").strip("\n")
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith(EXPECT_PREFIX), f"{path.name}: first line must be '{EXPECT_PREFIX}...'"
    return first[len(EXPECT_PREFIX):]


def errors_for(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(path.parent)
    with pytest.raises(ManifestError) as info:
        load(path.name)
    return info.value.errors


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_bad_manifest(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = expected_line(path)
    errors = errors_for(path, monkeypatch)
    assert len(errors) >= 1  # every problem is printed; the expected one must be among them
    for line in errors:
        assert "\n" not in line and "\r" not in line, f"error spans several lines: {line!r}"
        assert ERROR_LINE.match(line), f"not 'file:LINE: field: message': {line!r}"
        assert line.startswith(path.name + ":"), f"does not name the file: {line!r}"
    assert expected in errors, "\n".join(["expected:", "  " + expected, "got:"] +
                                         ["  " + e for e in errors])


def test_corpus_is_big_enough() -> None:
    files = corpus()
    assert len(files) >= 30
    for path in files:
        assert re.match(r"^\d{3}_[a-z0-9_]+\.(yaml|json)$", path.name), path.name
        assert expected_line(path).startswith(path.name + ":"), path.name


def test_corpus_numbers_are_unique() -> None:
    numbers = [p.name[:3] for p in corpus()]
    assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize("name", ["015_unknown_agent_profile_key.yaml",
                                  "049_agent_invalid_regex.yaml",
                                  "061_agent_extends_unknown.yaml",
                                  "064_agent_env_not_strings.yaml",
                                  "067_agent_stdin_string.yaml"])
def test_broken_profile_is_not_also_reported_as_undefined(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    errors = errors_for(CORPUS / name, monkeypatch)
    assert expected_line(CORPUS / name) in errors
    assert not [e for e in errors if "unknown agent 'mine'" in e], errors


# ---------------------------------------------------------------------------------------------
# The real CLI: a bad manifest stops `doit <verb>` with the one-line errors, exit code non-zero,
# no traceback, and nothing written (no work directory).

CLI_CASES = [
    ("plan", "028_dependson_unknown_task.yaml"),
    ("plan", "031_cycle_three.yaml"),
    ("plan", "003_syntax_tab_indentation.yaml"),
    ("launch", "014_unknown_task_key_dependson.yaml"),
]


@pytest.mark.parametrize("verb,name", CLI_CASES, ids=[f"{v}-{n}" for v, n in CLI_CASES])
def test_cli_rejects_bad_manifest(verb: str, name: str, tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    shutil.copy(ROOT / "dodo.py", control / "dodo.py")
    shutil.copytree(ROOT / "prompts", control / "prompts")
    shutil.copy(CORPUS / name, control / "orchestrator.yaml")
    before = sorted(p.relative_to(control) for p in control.rglob("*"))
    expected = "orchestrator.yaml" + expected_line(CORPUS / name)[len(name):]

    env = {k: v for k, v in os.environ.items() if k != "TASKORCH_MANIFEST"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run([sys.executable, "-m", "doit", verb], cwd=control, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode != 0, result.stdout + result.stderr
    assert expected in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert not (control / ".orchestrator").exists()
    assert sorted(p.relative_to(control) for p in control.rglob("*")) == before
