"""The interactive agents' own hooks (taskorch.hooks): what each captured payload of the real
CLIs says, the receiver program an agent runs, the argv that wires it without replacing the
user's own setup, and how the heartbeat weighs a hook's word against the screen.

Payloads are the real ones, captured by tests/realagents/hooks_capture.py into
tests/fixtures/agents/*/hooks/. The end-to-end runs with the real CLIs are in
test_real_agents.py.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import ROOT, wait_for
from taskorch import agents, hooks, signals
from taskorch.classify import HOOK_GRACE, Observation, classify, overruled
from taskorch.heartbeat import heard_since
from taskorch.hooks import base
from taskorch.hooks.claude_code import ClaudeCode
from taskorch.hooks.codex_notify import CodexNotify
from taskorch.runners.base import Pane

FIXTURES = ROOT / "tests" / "fixtures" / "agents"
CLAUDE = FIXTURES / "claude-code-2.1.332" / "hooks"
LIVE = Pane("s", dead=False, exit_status=None, exit_signal=None, pid=1, activity=1)


def payload(name: str) -> dict:
    return json.loads((CLAUDE / f"{name}.json").read_text())


@pytest.mark.parametrize("name,fact,detail", [
    ("ok-Stop", hooks.FINISHED, "Done: created hello.txt and committed it."),
    ("500-StopFailure", hooks.FAILED, "API Error: 500 Internal server error"),
    ("ask-PreToolUse", hooks.ASKING, "Formal or informal? [Formal / Informal]"),
    ("ask-PermissionRequest", hooks.ASKING, "Formal or informal?"),
    ("ask-Notification", hooks.ASKING, "Claude needs your permission"),
    ("ok-PreToolUse", hooks.WORKING, ""),
    ("ok-PostToolUse", hooks.WORKING, ""),
    ("ok-UserPromptSubmit", hooks.WORKING, ""),
])
def test_each_claude_event_says_one_fact(tmp_path, name, fact, detail):
    heard = ClaudeCode().heard(payload(name), tmp_path / "attempt-1")
    assert heard is not None and heard.fact == fact
    assert detail in heard.detail


@pytest.mark.parametrize("name", ["500-Notification", "idle-Notification", "ok-SessionStart",
                                  "ok-SessionEnd"])
def test_claude_events_that_add_nothing_are_not_recorded(tmp_path, name):
    """`idle_prompt` repeats, a minute later, what Stop said; session events say nothing."""
    assert ClaudeCode().heard(payload(name), tmp_path / "attempt-1") is None


def test_our_own_prompt_is_not_the_agents_progress(tmp_path):
    """A nudge is a prompt too: its UserPromptSubmit must not reset the stall clock."""
    heard = ClaudeCode().heard(payload("ok-UserPromptSubmit"), tmp_path / "attempt-1")
    assert heard is not None and heard.progress is False


def codex_turn(prompt: str, said: str) -> dict:
    return {"type": "agent-turn-complete", "thread-id": "t", "turn-id": "u", "cwd": "/w",
            "client": "codex-tui", "input-messages": [prompt], "last-assistant-message": said}


def test_codex_counts_only_its_own_threads_turn(tmp_path):
    """codex's TUI writes its thread title in a side thread that completes first, while the
    task's turn still works (seen with 0.171.0): that completion must not read as done."""
    attempt = tmp_path / "attempt-1"
    prompt = "Add hello.txt\n\nCreate hello.txt holding hello, and commit it.\n"
    (tmp_path / "attempt-1.prompt.md").write_text(prompt)
    title = codex_turn("Generate a concise, single-line task title ...\n" + prompt[:40],
                       "Add hello")
    assert CodexNotify().heard(title, attempt) is None
    heard = CodexNotify().heard(codex_turn(prompt, "Done."), attempt)
    assert heard is not None and (heard.fact, heard.detail) == (hooks.FINISHED, "Done.")


def test_a_codex_turn_before_the_last_text_typed_is_history(tmp_path):
    """The question's turn-complete (a new process, late under load) can land after taskorch
    answered it from the screen. Read as the current turn's end, it had the question answered
    again while the answer was being worked on, and the attempt failed (CI). Once text is
    typed, only the turn that took it ends the current turn."""
    attempt = tmp_path / "attempt-1"
    prompt = "Add hello.txt\n\nCreate hello.txt holding hello, and commit it.\n"
    (tmp_path / "attempt-1.prompt.md").write_text(prompt)
    record = tmp_path / "attempt-1.hooks.jsonl"
    base.typed(record, "hello")
    assert CodexNotify().heard(codex_turn(prompt, "Which greeting, hello or hi?"), attempt) is None
    heard = CodexNotify().heard(codex_turn("hello", "Done."), attempt)
    assert heard is not None and (heard.fact, heard.detail) == (hooks.FINISHED, "Done.")


def test_the_record_keeps_the_questions_own_words(tmp_path):
    """Claude names the question (AskUserQuestion), then says only `Claude needs your
    permission`: the record's last fact is the question, in its first words."""
    record = tmp_path / "attempt-1.hooks.jsonl"
    for name in ("ok-UserPromptSubmit", "ask-PreToolUse", "ask-PermissionRequest",
                 "ask-Notification"):
        base.append(record, ClaudeCode().heard(payload(name), tmp_path / "attempt-1"))
    last = hooks.read(record).last
    assert last.fact == hooks.ASKING and last.detail.startswith("Formal or informal?")
    base.append(record, ClaudeCode().heard(payload("ask-PostToolUse"), tmp_path / "attempt-1"))
    assert hooks.read(record).last.fact == hooks.WORKING  # answered: work goes on


def test_a_torn_or_foreign_line_is_skipped(tmp_path):
    record = tmp_path / "attempt-1.hooks.jsonl"
    record.write_text('{"fact": "finished", "event": "Stop", "at": 5}\nnot json\n{"fact": "x", '
                      '"event": "y", "at": 6}\n{"fact": "work')
    got = hooks.read(record)
    assert got.last.fact == hooks.FINISHED and got.progress_at == 5


def receive(tmp_path: Path, *args: str, stdin: str = "", env: dict | None = None):
    record = tmp_path / "attempt-1.hooks.jsonl"
    out = subprocess.run([sys.executable, "-m", "taskorch.hooks.receive", *args[:1], str(record),
                          *args[1:]], input=stdin, capture_output=True, text=True, timeout=30,
                         env={**os.environ, **(env or {})})
    return out, record


def test_the_receiver_records_and_wakes_the_heartbeat_without_the_attempts_marker(tmp_path):
    woke = tmp_path / "woke"
    beat = tmp_path / "beat.sh"
    beat.write_text(f"#!/bin/sh\nenv > {shlex.quote(str(woke))}.tmp && "
                    f"mv {shlex.quote(str(woke))}.tmp {shlex.quote(str(woke))}\n")
    beat.chmod(0o755)
    out, record = receive(tmp_path, "claude-code", str(beat),
                          stdin=json.dumps(payload("ok-Stop")),
                          env={"TASKORCH_RUN": "key/a/1"})
    assert (out.returncode, out.stdout) == (0, "")  # Claude reads a Stop hook's exit and output
    assert hooks.read(record).last.fact == hooks.FINISHED
    wait_for(woke.exists, timeout=10, what="the heartbeat script to run")
    # the heartbeat stops this attempt: it must not carry its marker, nor what it starts
    assert "TASKORCH_RUN=" not in woke.read_text()


def test_work_in_progress_does_not_wake_the_heartbeat(tmp_path):
    woke = tmp_path / "woke"
    beat = tmp_path / "beat.sh"
    beat.write_text(f"#!/bin/sh\ntouch {shlex.quote(str(woke))}\n")
    beat.chmod(0o755)
    out, record = receive(tmp_path, "claude-code", str(beat),
                          stdin=json.dumps(payload("ok-PreToolUse")))
    assert out.returncode == 0 and hooks.read(record).last.fact == hooks.WORKING
    assert not woke.exists()


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]", '{"hook_event_name": 7}'])
def test_the_receiver_never_fails_the_agent(tmp_path, stdin):
    out, record = receive(tmp_path, "claude-code", "-", stdin=stdin)
    assert (out.returncode, out.stdout) == (0, "")
    assert not record.exists()


def test_codex_notify_runs_the_users_own_program_after_recording(tmp_path):
    seen = tmp_path / "theirs"
    prompt = "do it"
    (tmp_path / "attempt-1.prompt.md").write_text(prompt)
    theirs = [sys.executable, "-c", f"import sys; open({str(seen)!r}, 'w').write(sys.argv[1])"]
    turn = json.dumps(codex_turn(prompt, "Done."))
    out, record = receive(tmp_path, "codex-notify", "-", "--then", json.dumps(theirs), turn)
    assert out.returncode == 0 and hooks.read(record).last.fact == hooks.FINISHED
    wait_for(seen.exists, timeout=10, what="the user's own notify program")
    assert json.loads(seen.read_text())["last-assistant-message"] == "Done."


def test_claude_hooks_come_in_a_settings_file_of_their_own(tmp_path):
    """`--settings` adds to the user's settings; the command survives odd paths."""
    record = tmp_path / "a dir; rm -rf x" / "attempt-1.hooks.jsonl"
    args = hooks.arguments("claude-code", record, tmp_path / "beat", {})
    assert args[0] == "--settings" and Path(args[1]).parent == record.parent
    settings = json.loads(Path(args[1]).read_text())
    command = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    argv = shlex.split(command)
    assert argv[-3:] == ["claude-code", str(record), str(tmp_path / "beat")]
    assert set(settings["hooks"]) >= {"Stop", "StopFailure", "Notification", "PreToolUse"}


def test_codex_notify_keeps_the_users_own_notify(tmp_path):
    codex_home = tmp_path / "codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text('notify = ["notify-send", "codex \\"done\\""]\n')
    record = tmp_path / "attempt-1.hooks.jsonl"
    args = hooks.arguments("codex-notify", record, None, {"CODEX_HOME": str(codex_home)})
    assert args[0] == "-c"
    notify = tomllib.loads(args[1])["notify"]  # what codex parses the override as
    assert notify[-5:] == ["codex-notify", str(record), "-", "--then",
                           json.dumps(["notify-send", 'codex "done"'])]


def test_the_builtin_interactive_profiles_wire_their_hooks_into_the_argv():
    for name, wiring in (("claude", "claude-code"), ("codex", "codex-notify")):
        profile = agents.BUILTIN[name]
        argv = profile.argv(prompt_file="p", model=None, task_id="a", worktree="w",
                            hook_args=["--X", "y"])
        assert profile.hooks == wiring and argv[1:3] == ["--X", "y"] and argv[-1] == "{prompt}"


def heard(fact: str, detail: str = "") -> base.Heard:
    return base.Heard(fact, "E", detail, at=1.0)


@pytest.mark.parametrize("fact,screen_says,expected", [
    (hooks.FINISHED, "", "idle"),                      # the working screen lags: the hook rules
    (hooks.FINISHED, "error:■ 429", "idle"),  # the retry prompt on screen quotes the error
    (hooks.FAILED, "", "error:API Error: 500"),
    (hooks.ASKING, "", "waiting:Formal?"),
    (hooks.WORKING, "idle", ""),                       # a tool runs: not idle, whatever it shows
    (hooks.WORKING, "waiting:Enter to select", "waiting:Enter to select"),  # a dialog is a dialog
])
def test_a_hooks_word_overrules_the_screens_guess(fact, screen_says, expected):
    detail = {"failed": "API Error: 500", "asking": "Formal?"}.get(fact, "")
    assert overruled(heard(fact, detail), screen_says) == expected


def test_a_hooks_idle_needs_no_second_look_at_the_screen():
    """The screen must be seen twice the same before it is believed; a hook at once, so that a
    dependent starts within seconds of a finished turn."""
    claude = agents.BUILTIN["claude"]
    obs = Observation(pane=LIVE, exit=None, says="idle", steady=False, idle_seconds=1)
    assert classify(obs, claude, 600).kind == "running"
    obs = Observation(pane=LIVE, exit=None, says="idle", steady=False, idle_seconds=1, heard=True)
    assert classify(obs, claude, 600).kind == "idle"


def test_a_settled_screen_waits_a_while_for_the_hook_that_tells_the_turns_end():
    """codex asked in prose and its screen settled before its notify landed (CI, under load):
    judged on the screen alone, the turn had no question and no commit, and was retried. The
    screen waits for the hook's word, and is believed only once the hook is long overdue."""
    codex = agents.BUILTIN["codex"]
    due = Observation(pane=LIVE, exit=None, says="idle", steady=True, idle_seconds=2,
                      hook_due=True)
    assert classify(due, codex, 600).kind == "running"
    assert classify(replace(due, idle_seconds=HOOK_GRACE + 1), codex, 600).kind == "idle"
    assert classify(replace(due, hook_due=False), codex, 600).kind == "idle"


def test_only_the_agents_own_events_count_as_progress(tmp_path):
    record = tmp_path / "attempt-1.hooks.jsonl"
    base.append(record, base.Heard(hooks.WORKING, "UserPromptSubmit", progress=False, at=500.0))
    assert not heard_since(hooks.read(record), 100.0)
    base.append(record, base.Heard(hooks.WORKING, "PreToolUse", at=600.0))
    assert heard_since(hooks.read(record), 100.0) and not heard_since(hooks.read(record), 600.0)


def test_a_profile_with_its_own_command_keeps_a_builtins_hooks_only_with_the_placeholder(tmp_path):
    """`extends: claude` to borrow its screen patterns, with a command of one's own: the
    built-in's hooks belong to its command, so they are not wired into one without
    {hook_args}; with it, they are."""
    plain = agents.profile_from_manifest("mine", {"extends": "claude", "command": ["my-claude"]})
    wired = agents.profile_from_manifest("mine", {"extends": "claude",
                                                  "command": ["my-claude", "{hook_args}"]})
    assert plain.hooks is None and wired.hooks == "claude-code"
    assert agents.profile_from_manifest("mine", {"extends": "claude"}).hooks == "claude-code"


def test_a_tool_event_that_lands_after_the_turns_end_does_not_reopen_it(tmp_path):
    """Claude runs tool hooks async: a PostToolUse landed after Stop (seen with 2.1.332 under
    load) and the finished turn read as work going on, so the task waited for the stall."""
    record = tmp_path / "attempt-1.hooks.jsonl"
    attempt = tmp_path / "attempt-1"
    for name in ("ok-UserPromptSubmit", "ok-PreToolUse", "ok-Stop", "ok-PostToolUse"):
        base.append(record, ClaudeCode().heard(payload(name), attempt))
    assert hooks.read(record).last.fact == hooks.FINISHED
    base.append(record, ClaudeCode().heard(payload("ok-UserPromptSubmit"), attempt))  # a nudge
    base.append(record, ClaudeCode().heard(payload("ok-PreToolUse"), attempt))
    assert hooks.read(record).last.fact == hooks.WORKING


def test_a_question_on_screen_is_an_echo_when_the_hooks_report_every_question():
    """After an allow-listed AskUserQuestion was answered, Claude's transcript echoes it
    (`⎿ · Which greeting …? → hello`), the answer's pattern matched the echo, and Enter was
    pressed a second time into the working agent."""
    echo = "waiting:⎿ · Which greeting? → hello"
    assert overruled(heard(hooks.WORKING), echo, asks=True) == ""
    assert overruled(heard(hooks.WORKING), echo, asks=False) == echo  # codex: screen dialogs


def test_the_hooks_question_names_it_not_the_dialogs_footer():
    assert overruled(heard(hooks.ASKING, "Formal or informal? [Formal / Informal]"),
                     "waiting:Enter to select · ↑/↓ to navigate · Esc to cancel") == \
        "waiting:Formal or informal? [Formal / Informal]"


def test_text_taskorch_types_reopens_a_finished_turn_and_codex_owns_its_answer(tmp_path):
    """An answer typed into codex's composer after a finished turn starts a new turn: the old
    `finished` must not end it, and the new turn's notify (its input is the answer, not the
    prompt) must count."""
    record = tmp_path / "attempt-1.hooks.jsonl"
    (tmp_path / "attempt-1.prompt.md").write_text("do it")
    attempt = tmp_path / "attempt-1"
    base.append(record, CodexNotify().heard(codex_turn("do it", "Which one?"), attempt))
    hooks.typed(record, "hello")
    assert hooks.read(record).last.fact == hooks.WORKING
    base.append(record, CodexNotify().heard(codex_turn("hello", "Done."), attempt))
    assert hooks.read(record).last.detail == "Done."


@pytest.mark.parametrize("said,question", [
    ("Which greeting should hello.txt hold, hello or hi?", True),
    ("I can do that.\n\n**Should I also add a test?**", True),
    ("Done: created hello.txt.", False),
    ("Is it done? Yes, it is.", False),
    ("", False),
])
def test_a_last_message_that_ends_on_a_question_is_one(said, question):
    from taskorch.classify import question_in
    assert bool(question_in(said)) is question


def test_claudes_turn_end_reports_its_tokens_from_the_transcript(tmp_path):
    """Interactive Claude prints no usage; its transcript has each assistant message's. Claude
    writes a line per content block, each carrying the message's usage: counted once."""
    transcript = tmp_path / "t.jsonl"
    lines = (CLAUDE / "transcript.jsonl").read_text().splitlines()
    transcript.write_text("\n".join(lines + [l for l in lines if '"assistant"' in l]) + "\n")
    stop = {**payload("ok-Stop"), "transcript_path": str(transcript)}
    out, record = receive(tmp_path, "claude-code", "-", stdin=json.dumps(stop))
    said = signals.load(tmp_path / "attempt-1.signals.json")
    assert said is not None and said.finished and said.error is None
    assert (said.input_tokens, said.output_tokens, said.cost_usd) == (12865 + 13011, 79 + 20, None)
    assert said.last_message == "Done: created hello.txt and committed it."
