"""doit import: issues from a JSON file become tasks; the user's tasks and comments stay."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

FIXTURE = Path(__file__).parent / "fixtures" / "issues.json"
FILES = ["README.md", "src/config.py", "src/health.py", "src/jobs.py", "src/kill_switch.py",
         "docs/config.md", "tests/test_config.py"]
USER = """\
# my manifest: this comment must survive an import
project: svc
repo: {repo}
agent: demo
labels: {{ops: "Phase 2: High"}}
phases:
  - name: "Phase 1: Critical"
    tasks:
      - id: mine          # my own task, untouched
        issue: 104
        title: Kill switch (already planned)
        files: [src/jobs.py]
"""


@pytest.fixture
def project_repo(tmp_path: Path) -> Path:
    """A bare remote holding the files the issues talk about."""
    bare, seed = tmp_path / "svc.git", tmp_path / "svc-seed"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "--initial-branch=main", str(seed)], check=True)
    for name in FILES:
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(f"{name}\n")
    subprocess.run(git + ["add", "-A"], cwd=seed, check=True)
    subprocess.run(git + ["commit", "-qm", "seed"], cwd=seed, check=True)
    subprocess.run(git + ["push", "-q", str(bare), "HEAD:refs/heads/main"], cwd=seed, check=True)
    return bare


def test_import_shows_a_diff_and_writes_nothing_without_write(control, project_repo):
    path = control.write(USER.format(repo=project_repo))
    before = path.read_text()
    out = control.doit("import", "--from", str(FIXTURE)).stdout
    assert out.startswith("--- orchestrator.yaml\n+++ orchestrator.yaml (imported)")
    assert "import: 19 new task(s)" in out and "1 already in the manifest" in out
    assert f"nothing written; run `doit import --from {FIXTURE} --write`" in out
    assert path.read_text() == before


def test_import_write_adds_tasks_and_keeps_the_users_own(control, project_repo):
    path = control.write(USER.format(repo=project_repo))
    out = control.doit("import", "--from", str(FIXTURE), "--write").stdout
    text = path.read_text()
    assert text.startswith("# my manifest: this comment must survive an import\n")
    assert "      - id: mine          # my own task, untouched\n" in text
    data = yaml.safe_load(text)
    tasks = {t["id"]: (phase["name"], t) for phase in data["phases"] for t in phase["tasks"]}
    assert tasks["i101"][0] == "Phase 1: Critical"
    assert tasks["i101"][1]["files"] == ["src/config.py", "tests/test_config.py"]
    assert tasks["i102"][1]["dependsOn"] == ["i101"] and tasks["i102"][0] == "Phase 2: High"
    assert tasks["i105"][1]["dependsOn"] == ["mine"]  # blocked by #104, the user's task
    assert tasks["i109"][1]["dependsOn"] == ["i101", "mine"]
    assert tasks["i116"][1]["files"] == ["src"]
    assert tasks["i120"][0] == "Phase 2: High"  # the user's label mapping
    assert tasks["i110"][1]["files"] == [] and tasks["i119"][1]["files"] == []
    assert "i110 (#110)" in out and "run serialized against every task" in out
    assert "i115: depends on #7, which is neither a task nor an open issue" in out
    assert "i118: depends on #118" in out
    assert tasks["i114"][1]["files"] == []
    # hostile text is data: kept byte-exact, never run, and the manifest stays valid
    hostile = next(i for i in __import__("json").loads(FIXTURE.read_text()) if i["number"] == 111)
    assert tasks["i111"][1]["title"] == hostile["title"] and tasks["i111"][1]["body"] == hostile["body"]
    assert not Path("/tmp/PWNED_IMPORT").exists()
    assert "Phase 4: Low" in [p["name"] for p in data["phases"]]
    assert control.doit("plan").returncode == 0


def test_import_again_adds_nothing(control, project_repo):
    control.write(USER.format(repo=project_repo))
    control.doit("import", "--from", str(FIXTURE), "--write")
    out = control.doit("import", "--from", str(FIXTURE)).stdout
    assert "import: no new issues" in out and "import: 0 new task(s)" in out


def test_a_bad_issues_file_is_a_clear_error(control, project_repo, tmp_path):
    control.write(USER.format(repo=project_repo))
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    result = control.doit("import", "--from", str(bad), check=False)
    assert result.returncode != 0 and "expected a JSON list of issues" in result.stderr
    assert "Traceback" not in result.stderr
