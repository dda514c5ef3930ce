"""The retry prompt quotes a clean, bounded excerpt of the failed attempt (issue 9, part 5): no
escape bytes, no TUI drawing, no earlier prompts, about 2 KB at most."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from conftest import manifest, wait_for
from taskorch import excerpt, signals
from taskorch.layout import Layout

ROOT = Path(__file__).resolve().parent
PROMPT = """You are a coding agent working in a git worktree of the project demo.
Work only on the task below, commit your work on the current branch, and exit.

# Add the widget registry (attempt 1 of 3)

The registry maps widget names to their factories; the loader reads it at start-up.

## Files

- src/registry.py

## When you are done

Commit with a message that says what changed and why, then exit.
"""
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def claude_like_log(prompt: str) -> str:
    """A pipe-pane log as the raw stream an inline TUI writes: modes and key protocols, a title,
    the prompt echoed and wrapped at 200 columns, a spinner redrawn in place for 300 frames with
    the input box redrawn under it by cursor moves, and last the error with cursor-forward moves
    between its words and the box drawn again."""
    rule = "─" * 200
    out = ["\x1b[?2004h\x1b[>4;0m\x1b[>1u\x1b[?25l\x1b]0;✳ Claude Code\x07",
           " ▐▛███▜▌   Claude Code v2.1.332\r\n▝▜█████▛▘  Opus 5.5 · API Usage Billing\r\n\r\n"]
    echoed = " ".join(prompt.split())
    out.append("\x1b[1m❯ \x1b[22m" + "\r\n  ".join(echoed[i:i + 196]
                                                   for i in range(0, len(echoed), 196)) + "\r\n\r\n")
    out.append("\r\n\r\n\r\n\r\n")  # the spinner line and the box below it, drawn over each frame
    for frame in range(300):
        glyph = "·✢✳✶✻✽"[frame % 6]
        out.append(f"\x1b[4A\r\x1b[2K\x1b[38;5;174m{glyph}\x1b[39m Thinking… "
                   f"({frame // 10}s · ↓ {frame * 7} tokens · esc to interrupt)\r\n"
                   f"\x1b[2K\x1b[2m{rule}\x1b[22m\r\n\x1b[2K❯ \x1b[7m \x1b[27m\r\n"
                   f"\x1b[2K\x1b[2m{rule}\x1b[22m\r\n")
    out.append("\x1b[4A\r\x1b[J● API\x1b[1CError:\x1b[1C500\x1b[1CInternal server error. This is a "
               "server-side issue, usually temporary\x1b[1C—\x1b[1Ctry again in a moment.\r\n\r\n"
               f"{rule}\r\n❯ Resend your message to try again\r\n{rule}\r\n"
               "  ⏵⏵ bypass permissions on (shift+tab to cycle)\x1b[?25h\x1b[<u\x1b[?2004l")
    return "".join(out)


def task_files(tmp_path: Path, log: str, attempt: int = 1) -> Layout:
    layout = Layout(tmp_path)
    layout.log("a").parent.mkdir(parents=True)
    layout.log("a").write_bytes(log.encode())
    for n in range(1, attempt + 1):
        layout.prompt_file("a", n).parent.mkdir(parents=True, exist_ok=True)
        layout.prompt_file("a", n).write_text(PROMPT.replace("attempt 1 of", f"attempt {n} of"))
    return layout


def test_a_tui_log_gives_an_escape_free_bounded_excerpt_without_the_prompt(tmp_path):
    log = claude_like_log(PROMPT)
    assert len(log.encode()) > 100_000 and "\x1b[>4;0m" in log
    text = excerpt.of_attempt(task_files(tmp_path, log), "a", 1)
    assert "\x1b" not in text and not CONTROL.search(text), repr(text)
    assert len(text.encode()) <= 2048
    assert "API Error: 500 Internal server error" in text  # the words kept apart
    assert "❯ Resend your message to try again" in text
    assert text.count("Thinking") <= 1  # 300 spinner redraws, at most one line
    assert "───" not in text and "▐▛███▜▌" not in text  # no drawing
    for line in PROMPT.splitlines():
        if len(line) > 12:
            assert line not in text, line
    assert "widget" not in text and "registry" not in text


def test_a_spinner_redrawn_with_carriage_returns_keeps_only_its_last_frame(tmp_path):
    frames = "".join(f"\r⠋ Working ({s}s • esc to interrupt)" for s in range(500))
    text = excerpt.of_attempt(task_files(tmp_path, f"start\r\n{frames}\r\nfailed: boom\r\n"),
                              "a", 1)
    assert text == "start\n⠋ Working (499s • esc to interrupt)\nfailed: boom"


def test_a_long_log_keeps_its_end_and_marks_the_cut(tmp_path):
    log = "".join(f"step {i}: {'x' * 60}\r\n" for i in range(500)) + "fatal: the last words\r\n"
    text = excerpt.of_attempt(task_files(tmp_path, log), "a", 1)
    assert len(text.encode()) <= 2048
    assert text.startswith("[… ") and "earlier line(s) cut]" in text.splitlines()[0]
    assert text.endswith("fatal: the last words")


def test_an_attempt_quotes_only_its_own_part_of_the_log(tmp_path):
    layout = task_files(tmp_path, "first attempt: error one\r\n", attempt=2)
    first = excerpt.of_attempt(layout, "a", 1)
    assert first == "first attempt: error one"
    layout.failure_file("a", 1).write_text(json.dumps(
        {"log_tail": first, "log_end": layout.log("a").stat().st_size}))
    with open(layout.log("a"), "ab") as f:
        f.write(b"second attempt: error two\r\n")
    assert excerpt.of_attempt(layout, "a", 2) == "second attempt: error two"


def test_an_events_profile_quotes_the_transcript_and_the_reported_error(tmp_path):
    layout = task_files(tmp_path, "\x1b[31mstderr noise\x1b[0m\r\n")
    raw = (ROOT / "fixtures/agents/codex-0.171.0/exec-json-500.jsonl").read_text()
    layout.events_file("a", 1, ".events.jsonl").write_text(raw * 40)
    parser = signals.parser("codex-json")
    for line in raw.splitlines():
        parser.feed(line)
    signals.save(layout.signals_file("a", 1), parser.result())
    text = excerpt.of_attempt(layout, "a", 1, "codex-json")
    assert "\x1b" not in text and len(text.encode()) <= 2048
    assert '"type"' not in text  # readable lines, not raw JSON
    assert "Reconnecting... 5/5" in text
    assert text.splitlines()[-1] == ("The agent reported this error: We’re currently experiencing "
                                     "high demand, which may cause temporary errors.")


# --- through the doit CLI ----------------------------------------------------------------------

NOISY_FAILING_AGENT = r"""
import os, sys
prompt = open(os.environ["TASKORCH_PROMPT_FILE"]).read()
rule = "\u2500" * 200
out = sys.stdout
out.write("\x1b[?2004h\x1b[>4;0m\x1b]0;agent\x07" + rule + "\r\n")
for line in prompt.splitlines():  # echoes its prompt, as TUIs do
    out.write("\u276f " + line + "\r\n")
for i in range(200):
    out.write(f"\r\x1b[2K\u280b Working ({i}s \u2022 esc to interrupt)")
out.write("\r\n" + rule + "\r\n\x1b[1mfail-agent:\x1b[1Cerror:\x1b[1Csomething broke\x1b[0m\r\n")
out.write(rule + "\r\n\x1b[?2004l")
out.flush()
sys.exit(1)
"""


def test_a_third_attempts_retry_prompt_stays_small_and_clean(control, tmp_path):
    script = tmp_path / "noisy_fail.py"
    script.write_text(NOISY_FAILING_AGENT)
    task = {"id": "a", "title": "the task", "files": ["a.txt"],
            "body": "Make a.txt say hello, and nothing else."}
    control.write(manifest([[task]], agent="scripted",
                           agents={"scripted": {"command": [sys.executable, str(script)]}},
                           retry_backoff_seconds=0, stall_minutes=5, hook=False))
    control.doit("launch")
    third = control.workdir / "runs" / "a" / "attempt-3.prompt.md"

    def step():
        control.doit("heartbeat")
        return third.exists()
    wait_for(step, timeout=60, interval=0.2, what="a third attempt")
    prompt = third.read_text()
    assert len(prompt.encode()) < 3 * 1024, prompt
    assert "\x1b" not in prompt and not CONTROL.search(prompt), repr(prompt)
    assert prompt.count("fail-agent: error: something broke") == 1  # not its echo too
    assert prompt.count("did not succeed") == 1  # no earlier prompt quoted in it
    assert prompt.count("Make a.txt say hello") == 1
    assert prompt.count("Working (") <= 1
    assert "───" not in prompt


def test_an_error_block_retried_again_and_again_shows_once(tmp_path):
    layout = task_files(tmp_path, "")
    raw = (ROOT / "fixtures/agents/aider-0.86.2/aider-429-exit0.txt").read_text()
    layout.events_file("a", 1, ".events.log").write_text(raw)
    parser = signals.parser("aider-text")
    for line in raw.splitlines():
        parser.feed(line)
    signals.save(layout.signals_file("a", 1), parser.result())
    text = excerpt.of_attempt(layout, "a", 1, "aider-text")
    assert "Retrying in 0.2 seconds" not in text, text  # 8 retries: the last block is kept
    assert "Retrying in 32.0 seconds..." in text
    # the last retried block, the error it gave up on, and the error its signals report
    assert text.count("The API provider has rate limited you") == 3, text
    assert "[…" not in text  # all of it fits once folded
    assert text.endswith("The agent reported this error: HTTP 429: litellm.RateLimitError: "
                         "RateLimitError: OpenAIException - Number of requests has exceeded your "
                         "rate limit The API provider has rate limited you. Try again later or "
                         "check your quotas.")
