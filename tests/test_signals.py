"""Signals over screens (issue 9): each agent's own output, parsed offline from the real CLIs'
fixtures; the wrapper that keeps the raw events and writes the signals; the heartbeat judging
an exit 0 whose events carry an error; usage in `doit status`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DONE, agent_profile, manifest
from taskorch import signals
from taskorch.signals.base import Signals
from test_heartbeat import FAST, beat_until, journal

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "agents"
CODEX = FIXTURES / "codex-0.171.0"
CLAUDE = FIXTURES / "claude-code-2.1.332"
AIDER = FIXTURES / "aider-0.86.2"


def parse(name: str, fixture: Path) -> tuple[Signals, list[str]]:
    parser = signals.parser(name)
    shown = [parser.feed(line) for line in fixture.read_text(encoding="utf-8").splitlines()]
    return parser.result(), [line for line in shown if line is not None]


# -- parsers, offline --------------------------------------------------------------------------

@pytest.mark.parametrize("name, fixture, tokens, cost", [
    ("codex-json", CODEX / "exec-json-ok.jsonl", (30749, 173), None),
    ("claude-stream-json", CLAUDE / "stream-json-ok.jsonl", (37752, 115), 0.153308),
    ("aider-text", AIDER / "aider-ok.txt", (2600, 29), 0.0067),
])
def test_an_ok_run_finishes_with_no_error_and_its_usage(name, fixture, tokens, cost):
    result, shown = parse(name, fixture)
    assert result.finished and result.error is None
    assert (result.input_tokens, result.output_tokens) == tokens
    assert result.cost_usd == cost
    assert result.last_message == "Done: created hello.txt and committed it."
    assert any("Done: created hello.txt" in line for line in shown)


@pytest.mark.parametrize("name, fixture, named", [
    ("codex-json", CODEX / "exec-json-429.jsonl", "last status: 429"),
    ("codex-json", CODEX / "exec-json-429-retry-after-1.jsonl", "last status: 429"),
    # codex says no status for a 500: its message is all there is to name
    ("codex-json", CODEX / "exec-json-500.jsonl", "currently experiencing high demand"),
    ("claude-stream-json", CLAUDE / "stream-json-500-max-retries-2.jsonl", "API Error: 500"),
    ("claude-stream-json", CLAUDE / "stream-json-529-max-retries-1.jsonl", "API Error: 529"),
    ("aider-text", AIDER / "aider-429-exit0.txt", "HTTP 429"),
])
def test_an_api_failure_ends_in_an_error_naming_it(name, fixture, named):
    result, _ = parse(name, fixture)
    assert not result.finished
    assert result.error and named in result.error


def test_codex_metadata_warning_item_is_not_an_error():
    result, shown = parse("codex-json", CODEX / "exec-json-question.jsonl")
    assert result.finished and result.error is None
    assert result.last_message == "Formal or informal?"
    assert any(line.startswith("codex warning: Model metadata") for line in shown)


def test_claude_judges_is_error_not_subtype():
    # The error result says "subtype": "success"; a refused AskUserQuestion is not a failure.
    result, _ = parse("claude-stream-json", CLAUDE / "stream-json-500-max-retries-2.jsonl")
    assert result.error and result.cost_usd == 0
    assert result.last_message is None  # the "<synthetic>" message is the error, not words
    result, _ = parse("claude-stream-json", CLAUDE / "stream-json-askuserquestion.jsonl")
    assert result.finished and result.error is None and result.cost_usd == 0.10206


@pytest.mark.parametrize("name, fixture", [
    ("codex-json", CODEX / "exec-json-hang-cut-8s.jsonl"),
    ("claude-stream-json", CLAUDE / "stream-json-hang-cut-8s.jsonl"),
    ("aider-text", AIDER / "aider-hang-cut-10s.txt"),
])
def test_a_hang_cut_short_is_neither_finished_nor_errored(name, fixture):
    result, _ = parse(name, fixture)
    assert not result.finished and result.error is None
    assert result.input_tokens is None and result.cost_usd is None


def test_aider_question_exit_0_is_finished_and_keeps_its_words():
    result, _ = parse("aider-text", AIDER / "aider-question-exit0.txt")
    assert result.finished and result.error is None
    assert result.last_message == "Formal or informal?"


def test_aider_error_then_a_reply_is_not_an_error():
    parser = signals.parser("aider-text")
    for line in ("litellm.InternalServerError: boom", "The API provider's servers are down",
                 "Retrying in 0.2 seconds...", "All done.",
                 "Tokens: 1k sent, 10 received. Cost: $0.01 message, $0.01 session."):
        parser.feed(line)
    result = parser.result()
    assert result.finished and result.error is None and result.input_tokens == 1000


@pytest.mark.parametrize("name", sorted(signals.PARSERS))
def test_any_line_is_taken_and_shown_on_one_bounded_line(name):
    parser = signals.parser(name)
    for line in ("", "not json", "[1, 2]", '{"type": 5}', '{"type": "item.completed", "item": 3}',
                 '{"type": "result", "usage": null, "is_error": false}',
                 '{"type": "assistant", "message": {"content": "x"}}', "x" * 10000):
        shown = parser.feed(line)
        assert shown is None or all(len(part) <= 400 for part in shown.splitlines())
    assert isinstance(parser.result(), Signals)


def test_signals_round_trip_through_their_file(tmp_path):
    path = tmp_path / "attempt-1.signals.json"
    signals.save(path, Signals(finished=True, input_tokens=3, cost_usd=0.5))
    assert signals.load(path) == Signals(finished=True, input_tokens=3, cost_usd=0.5)
    assert signals.load(tmp_path / "missing.json") is None


# -- the wrapper -------------------------------------------------------------------------------

def test_the_wrapper_keeps_raw_events_shows_a_clean_transcript_and_writes_signals(tmp_path):
    events = tmp_path / "events.jsonl"
    escape = '{"type":"item.completed","item":{"type":"agent_message","text":"hi \\u001b]52;c;eA==\\u0007 there"}}\n'
    events.write_text(escape + (CODEX / "exec-json-ok.jsonl").read_text())
    agent = tmp_path / "agent.py"
    agent.write_text("import sys\nsys.stdout.write(open(sys.argv[1]).read())\n"
                     "print('to stderr', file=sys.stderr)\n")
    prompt = tmp_path / "prompt.md"
    prompt.write_text("do it\n")
    spec = {"argv": [sys.executable, str(agent), str(events)], "prompt_file": str(prompt),
            "cwd": str(tmp_path), "exit_file": str(tmp_path / "attempt-1.exit"),
            "events": "codex-json", "events_file": str(tmp_path / "attempt-1.events.jsonl"),
            "signals_file": str(tmp_path / "attempt-1.signals.json")}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    run = subprocess.run([sys.executable, "-m", "taskorch.wrapper", str(tmp_path / "spec.json")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert (tmp_path / "attempt-1.events.jsonl").read_text() == events.read_text()
    assert "\x1b" not in run.stdout and "\x07" not in run.stdout
    assert "codex: hi  there" in run.stdout  # shown, the clipboard escape taken out
    assert "codex: turn completed (30749 tokens in, 173 out)" in run.stdout
    assert '"type"' not in run.stdout  # the raw events are kept, not shown
    assert "to stderr" in run.stderr
    saved = signals.load(tmp_path / "attempt-1.signals.json")
    assert saved is not None and saved.finished and saved.input_tokens == 30749
    assert json.loads((tmp_path / "attempt-1.exit").read_text())["code"] == 0


def test_a_child_left_holding_the_agents_output_does_not_delay_its_exit(tmp_path):
    """aider 0.86.2 exits with a child still holding its stdout: the wrapper waited 5 s for
    the pipe to drain, so the heartbeat saw the exit, and the dependent started, 5 s late."""
    agent = tmp_path / "agent.py"
    agent.write_text(
        "import subprocess, sys\n"
        "print('{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1,"
        "\"output_tokens\":2}}', flush=True)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n")
    prompt = tmp_path / "prompt.md"
    prompt.write_text("do it\n")
    spec = {"argv": [sys.executable, str(agent)], "prompt_file": str(prompt),
            "cwd": str(tmp_path), "exit_file": str(tmp_path / "attempt-1.exit"),
            "events": "codex-json", "events_file": str(tmp_path / "attempt-1.events.jsonl"),
            "signals_file": str(tmp_path / "attempt-1.signals.json")}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    wrapper = subprocess.Popen([sys.executable, "-m", "taskorch.wrapper",
                                str(tmp_path / "spec.json")], stdout=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        assert wrapper.wait(timeout=3) == 0  # the child sleeps 30 s; the old drain took 5
    finally:
        os.killpg(wrapper.pid, signal.SIGKILL)
    saved = signals.load(tmp_path / "attempt-1.signals.json")
    assert saved is not None and saved.output_tokens == 2  # what came before the exit is read


# -- judging, on real tmux and git ---------------------------------------------------------------

def codex_like(control, fixture: Path, events: str = "codex-json", tasks: tuple[str, ...] = ("a",),
               **extra) -> None:
    """Tasks run by a scripted `codex exec --json` (or `claude -p`) that commits, prints
    `fixture`'s events and exits 0."""
    agent = {**agent_profile("print_events.py", str(fixture)), "stdin": True, "events": events}
    listed = [{"id": t, "title": f"task {t}", "files": [f"{t}.txt"]} for t in tasks]
    control.write(manifest([listed], agent="scripted", agents={"scripted": agent},
                           **{**FAST, **extra}))
    control.doit("launch")


def test_exit_0_after_a_commit_with_a_clean_turn_is_complete(control):
    codex_like(control, CODEX / "exec-json-ok.jsonl")
    status = beat_until(control, lambda s: s["a"]["status"] in DONE)
    assert status["a"]["attempts"] == 1
    assert status["a"]["usage"] == {"input_tokens": 30749, "output_tokens": 173, "cost_usd": None}
    run = control.workdir / "runs" / "a"
    assert (run / "attempt-1.events.jsonl").read_text() == (CODEX / "exec-json-ok.jsonl").read_text()
    assert signals.load(run / "attempt-1.signals.json").finished


def test_exit_0_after_a_commit_on_a_429_is_an_error_and_the_retry_is_told(control):
    codex_like(control, CODEX / "exec-json-429.jsonl", max_attempts=2)
    status = beat_until(control, lambda s: s["a"]["status"] == "error" and s["a"]["attempts"] == 1
                        or s["a"]["attempts"] >= 2, what="the first attempt judged")
    if status["a"]["attempts"] == 1:
        assert "429" in status["a"]["reason"]
    assert not any(new == "complete" for new, _ in journal(control, "a"))
    failed = [reason for new, reason in journal(control, "a") if new == "error"]
    assert "exceeded retry limit, last status: 429" in failed[0]
    status = beat_until(control, lambda s: s["a"]["attempts"] == 2 and s["a"]["status"] == "error",
                        what="the retry judged")
    retry_prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert "exceeded retry limit, last status: 429" in retry_prompt
    assert status["a"]["status"] == "error"  # never complete, though each attempt committed


def test_an_exit_0_whose_output_reports_an_error_is_a_failure_naming_it():
    from taskorch.agents import BUILTIN
    from taskorch.classify import Exit, Observation, classify, last_words
    profile = BUILTIN["codex-exec"]

    def verdict(ended: Exit):  # type: ignore[no-untyped-def]
        return classify(Observation(pane=None, exit=ended, says="", steady=False,
                                    idle_seconds=0), profile, 60)
    failed = verdict(Exit(0, error="exceeded retry limit, last status: 429 Too Many Requests"))
    assert failed.kind == "failed" and "last status: 429" in failed.reason
    assert verdict(Exit(0, said="Done.")).kind == "exited"
    assert verdict(Exit(1, error="x" * 5000)).reason.startswith("the agent exited 1: xxx")
    assert len(verdict(Exit(1, error="x" * 5000)).reason) < 600
    assert last_words(Exit(0, said="Formal or informal?")) == \
        "; its last message: 'Formal or informal?'"


# -- usage in status ---------------------------------------------------------------------------

def test_usage_per_task_and_in_total_shows_in_status(control):
    codex_like(control, CLAUDE / "stream-json-ok.jsonl", events="claude-stream-json",
               tasks=("a", "b"))
    beat_until(control, lambda s: all(t["status"] in DONE for t in s.values()))
    report = json.loads(control.doit("status", "--format", "json").stdout)
    one = {"input_tokens": 37752, "output_tokens": 115, "cost_usd": 0.153308}
    assert [t["usage"] for t in report["tasks"]] == [one, one]
    assert report["usage"] == {"input_tokens": 75504, "output_tokens": 230,
                               "cost_usd": pytest.approx(0.306616)}
    table = control.doit("status").stdout
    assert "usage: 75,504 tokens in, 230 out, $0.3066" in table
    detail = control.doit("status", "--task", "a").stdout
    assert "usage:\n  attempt 1: 37,752 tokens in, 115 out, $0.1533" in detail


def test_usage_sums_attempts_and_says_what_was_not_reported(control):
    codex_like(control, CODEX / "exec-json-429.jsonl", max_attempts=2)
    beat_until(control, lambda s: s["a"]["attempts"] == 2 and s["a"]["status"] == "error")
    assert control.status()["a"]["usage"] == {"input_tokens": None, "output_tokens": None,
                                              "cost_usd": None}
    detail = control.doit("status", "--task", "a").stdout
    assert "  attempt 1: ? tokens in, ? out, cost not reported" in detail
    assert "  total: ? tokens in, ? out, cost not reported" in detail


def test_no_usage_for_agents_whose_output_is_not_read(control):
    task = {"id": "a", "title": "the task", "files": ["a.txt"]}
    control.write(manifest([[task]], **FAST))
    control.doit("launch")
    beat_until(control, lambda s: s["a"]["status"] in DONE)
    assert control.status()["a"]["usage"] is None
    assert "usage" not in control.doit("status").stdout.split("tasks:")[-1].split("phases")[0]
