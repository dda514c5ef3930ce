"""Nudges on real tmux with scripted agents (issue 9): only real progress resets the stall clock,
a nudge is never pasted where nobody reads a terminal or into a dialog, and a nudge that does not
help ends in a restart."""

from __future__ import annotations

import sys
import time

import pytest

from conftest import AGENTS, DONE, agent_profile, wait_for
from test_heartbeat import beat_until, journal, one_task


def nudges_before_the_restart(control) -> list[str]:  # type: ignore[no-untyped-def]
    reasons = [reason for _, reason in journal(control, "a")]
    restarted = next(i for i, r in enumerate(reasons) if "after a nudge" in r or "not nudged" in r)
    return [r for r in reasons[:restarted] if r.startswith("nudged after")]


@pytest.mark.parametrize("style", ["codex", "claude"])
def test_a_hung_tui_agent_that_echoes_the_nudge_is_nudged_once_then_restarted(control, tmp_path,
                                                                                 style):
    record = tmp_path / "typed"
    one_task(control, agent_profile("busy_tui.py", str(record), style))
    status = beat_until(control, lambda s: s["a"]["attempts"] == 2, what="a restart")
    assert b"no progress on" in record.read_bytes()  # the nudge reached it, and it echoed it
    assert len(nudges_before_the_restart(control)) == 1
    first = next(r for new, r in journal(control, "a") if new == "error")
    assert "after a nudge" in first
    assert status["a"]["status"] in ("running", "error")


@pytest.mark.parametrize("extra", [{"stdin": True}, {"events": "codex-json"}],
                         ids=["stdin", "events"])
def test_a_headless_hung_agent_is_restarted_without_a_nudge(control, extra):
    one_task(control, {**agent_profile("hang.py"), **extra})
    beat_until(control, lambda s: s["a"]["attempts"] == 2, what="a restart")
    reasons = [r for _, r in journal(control, "a")]
    assert not any(r.startswith("nudged after") for r in reasons)
    first = next(r for new, r in journal(control, "a") if new == "error")
    assert "not nudged: its agent reads no terminal (a headless profile)" in first


def test_a_dialog_is_never_pasted_into(control, tmp_path):
    record = tmp_path / "typed"
    one_task(control, {"extends": "claude",
                       "command": [sys.executable, str(AGENTS / "dialog.py"), str(record)]})
    status = beat_until(control, lambda s: s["a"]["status"] == "stuck", what="stuck")
    assert status["a"]["reason"] == ("waiting for input: Enter to select · ↑/↓ to navigate · "
                                     "Esc to cancel")
    deadline = time.monotonic() + 3 * 0.03 * 60  # well past stall_minutes
    while time.monotonic() < deadline:
        control.doit("heartbeat")
        time.sleep(0.2)
    assert control.status()["a"]["status"] == "stuck"
    assert not record.exists() or record.read_bytes() == b"", "nothing is pasted into a dialog"
    assert not any(r.startswith("nudged after") for _, r in journal(control, "a"))


def test_an_answered_dialog_that_stays_is_restarted_not_nudged(control, tmp_path):
    record = tmp_path / "typed"
    one_task(control, {"extends": "claude",
                       "command": [sys.executable, str(AGENTS / "dialog.py"), str(record)],
                       "answers": [{"match": "Enter to select", "keys": ["Enter"]}]})
    beat_until(control, lambda s: s["a"]["attempts"] == 2, what="a restart")
    first = next(r for new, r in journal(control, "a") if new == "error")
    assert "after answering 'Enter to select · ↑/↓ to navigate · Esc to cancel'" in first
    assert "not nudged: a dialog is on its screen" in first
    assert not any(r.startswith("nudged after") for _, r in journal(control, "a"))
    assert b"no progress on" not in record.read_bytes()


def test_a_question_its_hook_names_is_answered_only_once_it_shows(control, tmp_path):
    """Claude's hook names an AskUserQuestion a few tenths of a second before the dialog is
    drawn; an allow-listed answer pressed then lands in the input box instead."""
    record = tmp_path / "typed"
    record.touch()
    agent = {"extends": "claude", "command": [sys.executable, str(AGENTS / "hooked_dialog.py"),
                                              str(record), "4", "{hook_args}"],
             "answers": [{"match": "Formal or informal", "keys": ["Enter"]}]}
    one_task(control, agent, stall_minutes=5)
    hooks_file = control.workdir / "runs" / "a" / "attempt-1.hooks.jsonl"
    wait_for(lambda: hooks_file.exists() and "asking" in hooks_file.read_text(), timeout=20,
             what="the hook to name the question")
    status = beat_until(control, lambda s: s["a"]["status"] in DONE, timeout=60)
    assert "early:" not in record.read_text(), record.read_text()
    assert "answered" in record.read_text()
    assert status["a"]["attempts"] == 1
