"""`doit VERB --help` and `-h`: every verb answers with its usage, through doit's real CLI."""

from __future__ import annotations

import re

import pytest

from conftest import manifest
from taskorch import dodo
from taskorch.commands import usage

VERB_NAMES = [verb.name for verb in dodo.VERBS]


def test_every_verb_answers_help_with_its_usage(control):
    control.write(manifest([[{"id": "t1", "title": "x", "files": ["a"]}]]))
    for verb in dodo.VERBS:
        result = control.doit(verb.name, "--help")
        assert result.stdout.startswith(f"usage: doit {verb.name}"), (verb.name, result.stdout)
        assert verb.summary in result.stdout
        for param in verb.params:
            assert f"--{param['long']}" in result.stdout, (verb.name, param)
        assert "not recognized" not in result.stderr
    assert not (control.workdir / "state.db").exists()  # help ran nothing


@pytest.mark.parametrize("verb", ["launch", "status"])
def test_dash_h_is_help_too(control, verb):
    """One verb with parameters and the default one: -h is read where --help is (usage.asked),
    so every verb need not be run twice."""
    control.write(manifest([[{"id": "t1", "title": "x", "files": ["a"]}]]))
    assert control.doit(verb, "-h").stdout == control.doit(verb, "--help").stdout
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
