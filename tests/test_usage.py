"""`doit VERB --help` and `-h`: every verb answers with its usage, through doit's real CLI."""

from __future__ import annotations

import re

import pytest

from conftest import manifest
from taskorch import dodo
from taskorch.commands import usage

VERB_NAMES = [verb.name for verb in dodo.VERBS]


@pytest.mark.parametrize("verb", dodo.VERBS, ids=VERB_NAMES)
def test_every_verb_answers_help_with_its_usage(verb, capsys):
    """What dodo.py answers before doit parses anything, in process: a doit process per verb
    cost 16 s of the suite. The tests below run it through doit's real CLI, with a manifest
    and with a broken one, and check that help runs nothing."""
    with pytest.raises(SystemExit) as done:
        dodo.answer_help([verb.name, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and out.startswith(f"usage: doit {verb.name}"), out
    assert verb.summary in out
    for param in verb.params:
        assert f"--{param['long']}" in out, param


@pytest.mark.parametrize("verb", ["launch", "status"])
def test_dash_h_is_help_too(control, verb):
    """One verb with parameters and the default one: -h is read where --help is (usage.asked),
    so every verb need not be run twice."""
    control.write(manifest([[{"id": "t1", "title": "x", "files": ["a"]}]]))
    short, long = control.doit(verb, "-h"), control.doit(verb, "--help")
    assert short.stdout == long.stdout and long.stdout.startswith(f"usage: doit {verb}")
    assert "not recognized" not in short.stderr + long.stderr  # doit's own refusal of --help
    assert not (control.workdir / "state.db").exists()


def test_help_works_where_the_manifest_is_broken(control):
    control.write("repo: demo\nphases: [\n")
    result = control.doit("launch:t1", "--help")
    assert result.stdout.startswith("usage: doit launch")


def test_every_listed_verb_has_usage(control):
    # a new verb must be declared in dodo.VERBS, or it would have no --help
    control.write(manifest([[{"id": "t1", "title": "x", "files": ["a"]}]]))
    listed = {line.split()[0] for line in control.doit("list").stdout.splitlines() if line.strip()}
    assert listed == set(VERB_NAMES)


def test_options_and_positionals_show_in_the_synopsis():
    verbs = {verb.name: verb for verb in dodo.VERBS}
    assert usage.render(verbs["cron"]).splitlines()[0] == \
        "usage: doit cron [--install] [--uninstall] [--every N]"
    assert usage.render(verbs["attach"]).splitlines()[0] == "usage: doit attach [--print] <task id>"
    for verb in dodo.VERBS:
        assert all(len(line) <= usage.WIDTH for line in usage.render(verb).splitlines()), verb.name


@pytest.mark.parametrize("argv,expected", [
    (["cron", "--help"], "cron"), (["-v", "2", "status", "-h"], "status"),
    (["launch:t1", "-h"], "launch"), (["--help"], None), (["status"], None),
    (["status", "--", "-h"], None), (["plan", "status", "--help"], "status"),
])
def test_which_verb_a_command_line_asks_about(argv, expected):
    verb = usage.asked(argv, dodo.VERBS)
    assert (verb.name if verb else None) == expected


def test_attach_takes_print_after_the_id(control):
    control.write(manifest([[{"id": "t1", "title": "x", "files": ["a"]}]]))
    result = control.doit("attach", "t1", "--print", check=False)
    # t1 never started, so there is no session; the point is that --print is not an id
    assert re.search(r"t1 has no session", result.stdout + result.stderr)
    assert "usage" not in result.stdout + result.stderr
