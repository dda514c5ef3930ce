"""Prompt templates: sandboxed, strict, with partials; errors name the template and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import manifest
from taskorch import prompts

ROOT = Path(__file__).resolve().parent.parent


def render(tmp_path: Path, source: str, **context) -> str:  # type: ignore[no-untyped-def]
    (tmp_path / "t.md.j2").write_text(source)
    return prompts.render(tmp_path, "t.md.j2", context)


def test_a_misspelt_variable_names_the_template_and_line(tmp_path):
    with pytest.raises(prompts.PromptError) as info:
        render(tmp_path, "line one\n{{ title }}\n{{ titel }}\n", title="x")
    assert str(info.value).startswith("prompts/t.md.j2:3: 'titel' is undefined")


def test_a_syntax_error_names_the_template_and_line(tmp_path):
    with pytest.raises(prompts.PromptError, match=r"^prompts/t.md.j2:2: .*fix the template"):
        render(tmp_path, "ok\n{% if %}\n")


def test_an_error_inside_a_partial_names_the_partial(tmp_path):
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "p.md.j2").write_text("a\nb\n{{ nope }}\n")
    with pytest.raises(prompts.PromptError, match=r"^prompts/partials/p.md.j2:3: 'nope' is undefined"):
        render(tmp_path, '{% include "partials/p.md.j2" %}')


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ title.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
])
def test_a_template_cannot_reach_python_internals(tmp_path, source):
    with pytest.raises(prompts.PromptError):
        render(tmp_path, source, title="x")


def test_issue_text_is_a_value_never_template_source(tmp_path):
    body = "{{ 7*7 }} {% for x in range(3) %}x{% endfor %} {# c #}"
    assert render(tmp_path, "{{ body }}", body=body) == body


def test_the_shipped_task_template_gets_every_documented_variable(control):
    control.write(manifest([[{"id": "d1", "issue": 3, "title": "Dep", "files": ["a"]}],
                            [{"id": "v1", "issue": 4, "title": "Verify me", "files": ["a", "b/c"],
                              "dependsOn": ["d1"], "body": "Body text.", "verify": "make test"}]],
                           project="vars"))
    from taskorch.launch import prompt_context
    project = control.project()
    context = prompt_context(project, project.manifest.task("v1"), "fix/issue-4-verify-me", 2)
    text = prompts.render(control.path / "prompts", "task.md.j2", context)
    assert "# Verify me" in text and "This is issue #4 of vars." in text
    assert "- a\n- b/c\n" in text and "- d1: Dep (issue #3)" in text
    assert "Run `make test` in the repository root; it must pass." in text
    assert "branch `fix/issue-4-verify-me`, which starts from `main`" in text
    documented = (ROOT / "prompts" / "README.md").read_text()
    for name in context:
        assert f"`{name}`" in documented, f"{name} is not documented in prompts/README.md"


def test_a_task_can_name_its_own_template(control):
    (control.path / "prompts" / "special.md.j2").write_text(
        "Special {{ id }}\n<!-- taskorch-task: {{ spec | tojson }} -->\n")
    control.write(manifest([[{"id": "s1", "title": "x", "files": ["a"], "prompt": "special.md.j2"}]]))
    control.doit("launch")
    text = (control.workdir / "runs" / "s1" / "attempt-1.prompt.md").read_text()
    assert text.startswith("Special s1\n")


def test_a_broken_template_fails_the_launch_clearly_and_changes_nothing(control):
    (control.path / "prompts" / "task.md.j2").write_text("{{ title }}\n{{ bodyy }}\n")
    control.write(manifest([[{"id": "b1", "title": "x", "files": ["a"]}]]))
    result = control.doit("launch", check=False)
    assert result.returncode != 0
    assert "taskorch: launch:b1: prompts/task.md.j2:2: 'bodyy' is undefined" in result.stderr
    assert "Traceback" not in result.stderr
    assert control.status()["b1"]["status"] == "pending"
    assert control.sessions() == {}
