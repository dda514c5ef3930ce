"""`doit add` (issue 13: the skill's "create a task") through doit's command line: a diff first,
comments and layout kept, --write applies it, and bad options change nothing."""

from __future__ import annotations

import yaml

from conftest import manifest

HEAD = "# the team's own notes, kept by doit add\n"


def written(control) -> str:  # type: ignore[no-untyped-def]
    control.write(manifest([[{"id": "t1", "title": "one", "files": ["a.py"]}],
                            [{"id": "t2", "title": "two", "files": ["b.py"]}]]))
    path = control.path / "orchestrator.yaml"
    path.write_text(HEAD + path.read_text())
    return path.read_text()


def test_add_shows_a_diff_and_writes_only_with_write(control):
    before = written(control)
    shown = control.doit("add", "--title", "Fix the login redirect", "--files", "src/auth.py,b.py",
                         "--depends-on", "t1", "--phase", "1", "--priority", "high",
                         "--agent", "human")
    assert "+      - id: fix-the-login-redirect" in shown.stdout, shown.stdout
    assert "nothing written; add --write" in shown.stdout
    assert (control.path / "orchestrator.yaml").read_text() == before
    control.doit("add", "--title", "Fix the login redirect", "--files", "src/auth.py,b.py",
                 "--depends-on", "t1", "--phase", "1", "--priority", "high", "--agent", "human",
                 "--write")
    text = (control.path / "orchestrator.yaml").read_text()
    assert text.startswith(HEAD)  # comments and layout kept
    [first, second] = yaml.safe_load(text)["phases"]
    assert first["tasks"][-1] == {"id": "fix-the-login-redirect",
                                  "title": "Fix the login redirect",
                                  "files": ["src/auth.py", "b.py"], "dependsOn": ["t1"],
                                  "agent": "human", "priority": "high"}
    assert [t["id"] for t in second["tasks"]] == ["t2"]
    plan = control.doit("plan").stdout
    assert "fix-the-login-redirect" in plan


def test_add_defaults_to_the_last_phase_and_a_new_name_adds_one(control):
    written(control)
    control.doit("add", "--id", "t3", "--title", "three", "--write")
    control.doit("add", "--id", "t4", "--title", "four", "--phase", "Later", "--write")
    phases = yaml.safe_load((control.path / "orchestrator.yaml").read_text())["phases"]
    assert [t["id"] for t in phases[1]["tasks"]] == ["t2", "t3"]
    assert phases[2] == {"name": "Later", "tasks": [{"id": "t4", "title": "four", "files": []}]}


def test_bad_options_change_nothing_and_say_why(control):
    before = written(control)
    for args, said in ((("--title", "x", "--depends-on", "nope"), "dependsOn"),
                       (("--title", "x", "--agent", "claud"), "unknown agent 'claud'"),
                       (("--title", "x", "--priority", "urgent"),
                        "--priority must be one of low, medium, high, not 'urgent'"),
                       (("--id", "t1", "--title", "x"), "a task 't1' is already in"),
                       (("--files", "a.py",), "--title is required")):
        result = control.doit("add", *args, "--write", check=False)
        assert result.returncode != 0, args
        assert said in result.stdout + result.stderr, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    assert (control.path / "orchestrator.yaml").read_text() == before
