"""Signals over screens (issue 9): each agent's own output, parsed offline from the real CLIs'
fixtures; the wrapper that keeps the raw events and writes the signals; the heartbeat judging
an exit 0 whose events carry an error; usage in `doit status`."""

from __future__ import annotations

import pytest

from pathlib import Path

from taskorch import signals
from taskorch.signals.base import Signals

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
