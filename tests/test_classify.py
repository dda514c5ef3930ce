"""Reading screens and classifying observations: pure functions, no tmux needed."""

from __future__ import annotations

import pytest

from taskorch import agents, screen
from taskorch.classify import Exit, Observation, classify, reading
from taskorch.runners.base import Pane

LIVE = Pane("s", dead=False, exit_status=None, exit_signal=None, pid=1, activity=1)
PLAIN = agents.AgentProfile(name="p", command=("x", "y"), waiting=(r"\(y/n\)",))
TUI = agents.AgentProfile(name="t", command=("x", "y"), interactive=True, idle=(r"^›\s*$",))


@pytest.mark.parametrize("a,b", [
    ("⠋ Working (12s • esc to interrupt)", "⠙ Working (13s • esc to interrupt)"),
    ("✻ Thinking… (4s · ↓ 1.2k tokens)", "✽ Thinking… (59s · ↓ 3.4k tokens)"),
    ("✶ Gesticulating…\n❯", "✽ Gesticulating… (16s)\n❯"),  # Claude: the timer appears at 16 s
    ("Waiting for gpt-4o [─≡──────]", "Waiting for gpt-4o [────≡───]"),
    ("\x1b[32mbuilding\x1b[0m 10:42:07", "building 10:42:09"),
    ("• Working (1m 04s • esc to interrupt)", "• Working (11m 58s • esc to interrupt)"),
])
def test_spinners_and_timers_are_not_progress(a, b):
    assert screen.fingerprint(a) == screen.fingerprint(b)


def test_new_text_is_progress():
    assert screen.fingerprint("⠋ Working (1s)\nEdited a.py") != screen.fingerprint("⠋ Working (1s)")


def test_an_answerable_question_is_read_before_other_waiting_lines():
    codex = agents.BUILTIN["codex"]
    says = reading(codex, "Do you trust the contents of this directory?\n› 1. Yes\nPress enter to continue")
    assert says == "waiting:Do you trust the contents of this directory?"


def test_idle_only_for_interactive_agents():
    assert reading(TUI, "done\n›") == "idle"
    assert reading(PLAIN, "done\n›") == ""


def obs(**kw) -> Observation:  # type: ignore[no-untyped-def]
    base = dict(pane=LIVE, exit=None, says="", steady=False, idle_seconds=0.0)
    return Observation(**{**base, **kw})


@pytest.mark.parametrize("observation,kind", [
    (obs(exit=Exit(0)), "exited"),
    (obs(exit=Exit(2)), "failed"),
    (obs(exit=Exit(137, 9)), "failed"),
    (obs(pane=None), "lost"),
    (obs(pane=Pane("s", True, None, None, 1, 1)), "failed"),
    (obs(says="waiting:Delete? (y/n)"), "waiting"),
    (obs(says="idle", steady=True), "idle"),
    (obs(says="idle", steady=False), "running"),
    (obs(idle_seconds=600), "stalled"),
    (obs(exit=Exit(0), says="waiting:x", idle_seconds=600), "exited"),
    (obs(pane=None, says="waiting:x"), "lost"),
])
def test_classification_order(observation, kind):
    assert classify(observation, TUI, stall_seconds=300).kind == kind


def test_a_signal_is_named():
    assert classify(obs(exit=Exit(137, 9)), PLAIN, 300).reason == "the agent was killed by signal 9"
