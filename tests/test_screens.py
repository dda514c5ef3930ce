"""Every real screen kept as a fixture, read with the built-in profiles (issue 9).

The screens were captured from codex-cli 0.171.0 and Claude Code 2.1.332 against a scripted model
(tests/realagents/README.md; the numbered and `claude-*` ones come from ../shared/agent-screens/,
taken at 200 columns; `tui-done`, `tui-working`, … from smoke.py at 160x45, where Claude shows its
diff panel at the right of every row). Working screens are never idle, finished screens are idle,
dialogs are waiting, and a turn that ended on an error is a failure with that line as the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskorch import agents, screen
from taskorch.classify import Observation, classify, reading
from taskorch.runners.base import Pane

FIXTURES = Path(__file__).parent / "fixtures" / "agents"
CODEX, CLAUDE = FIXTURES / "codex-0.171.0", FIXTURES / "claude-code-2.1.332"
LIVE = Pane("s", dead=False, exit_status=None, exit_signal=None, pid=1, activity=1)

# file -> (profile, what it says: "working" | "idle" | "waiting" | "error" | "exit")
SCREENS = {
    CODEX / "tui-01-startup-before-prompt.txt": ("codex", "working"),
    CODEX / "tui-02-trust-folder.txt": ("codex", "waiting"),
    CODEX / "tui-03-trust-folder-in-worktree.txt": ("codex", "waiting"),
    CODEX / "tui-04-working-model-hung.txt": ("codex", "working"),
    CODEX / "tui-05-working-shell-command.txt": ("codex", "working"),
    CODEX / "tui-06-done-idle.txt": ("codex", "idle"),
    CODEX / "tui-07-model-asked-idle.txt": ("codex", "idle"),  # prose: its turn is over
    CODEX / "tui-08-reconnecting-after-500.txt": ("codex", "working"),
    CODEX / "tui-09-error-500-final.txt": ("codex", "error"),
    CODEX / "tui-10-error-429-final.txt": ("codex", "error"),
    CODEX / "tui-trust-folder.txt": ("codex", "waiting"),
    CODEX / "tui-working.txt": ("codex", "working"),
    CODEX / "tui-done.txt": ("codex", "idle"),
    CODEX / "tui-question.txt": ("codex", "idle"),
    CLAUDE / "claude-500-gave-up.txt": ("claude", "error"),
    CLAUDE / "claude-529-gave-up.txt": ("claude", "error"),
    CLAUDE / "claude-500-retrying.txt": ("claude", "working"),
    CLAUDE / "claude-529-retrying.txt": ("claude", "working"),
    CLAUDE / "claude-api-key-dialog.txt": ("claude", "waiting"),
    CLAUDE / "claude-askuserquestion.txt": ("claude", "waiting"),
    CLAUDE / "claude-bypass-warning.txt": ("claude", "waiting"),
    CLAUDE / "claude-trust-dialog.txt": ("claude", "waiting"),
    CLAUDE / "claude-finished-idle.txt": ("claude", "idle"),
    CLAUDE / "claude-prose-question-idle.txt": ("claude", "idle"),
    CLAUDE / "claude-model-hang.txt": ("claude", "working"),
    CLAUDE / "claude-working-tool.txt": ("claude", "working"),
    CLAUDE / "claude-first-run-onboarding-connectivity.txt": ("claude", "exit"),
    CLAUDE / "claude-root-refusal.txt": ("claude", "exit"),
    CLAUDE / "tui-working.txt": ("claude", "working"),
    CLAUDE / "tui-done.txt": ("claude", "idle"),
    CLAUDE / "tui-question.txt": ("claude", "waiting"),
}


def test_every_screen_fixture_is_listed():
    on_disk = {p for d in (CODEX, CLAUDE) for p in d.glob("*.txt") if "stderr" not in p.name}
    assert on_disk == set(SCREENS)


def verdict(path: Path, name: str):  # type: ignore[no-untyped-def]
    profile = agents.BUILTIN[name]
    says = reading(profile, path.read_text(encoding="utf-8"))
    obs = Observation(pane=LIVE, exit=None, says=says, steady=True, idle_seconds=5.0)
    return says, classify(obs, profile, stall_seconds=1200)


@pytest.mark.parametrize("path,name,kind", [(p, *v) for p, v in SCREENS.items()],
                         ids=[f"{p.parent.name}/{p.name}" for p in SCREENS])
def test_each_real_screen(path, name, kind):
    says, found = verdict(path, name)
    if kind in ("working", "exit"):  # the exit status judges the exit screens
        assert found.kind == "running", (says, found)
    elif kind == "idle":
        assert found.kind == "idle", (says, found)
    elif kind == "waiting":
        assert found.kind == "waiting", (says, found)
        assert found.question
    else:
        assert found.kind == "failed", (says, found)
        assert found.reason.startswith("idle at its own prompt after an error on its screen: ")


def test_codex_trust_dialog_is_answered_with_enter():
    for path in (CODEX / "tui-02-trust-folder.txt", CODEX / "tui-trust-folder.txt"):
        says, found = verdict(path, "codex")
        assert found.question.endswith("1. Trust and continue")
        reply = next(a for a in agents.BUILTIN["codex"].answers
                     if __import__("re").search(a.match, found.question))
        assert (reply.send, reply.keys) == ("", ("Enter",))


def test_error_lines_are_the_reason():
    assert verdict(CODEX / "tui-10-error-429-final.txt", "codex")[1].reason.endswith(
        "■ exceeded retry limit, last status: 429 Too Many Requests")
    assert "● API Error: 500 Internal server error." in verdict(
        CLAUDE / "claude-500-gave-up.txt", "claude")[1].reason


def test_claude_askuserquestion_is_waiting_with_the_panel_open():
    says, found = verdict(CLAUDE / "tui-question.txt", "claude")
    assert found.question == "Enter to select · ↑/↓ to navigate · Esc to cancel"


def test_codex_runs_without_its_daemon():
    assert "--no-daemon" in agents.BUILTIN["codex"].command


# Rules, on made-up screens.

TUI = agents.AgentProfile(name="t", command=("x",), interactive=True, idle=(r"^›\s*$",),
                          waiting=(r"\(y/n\)",), busy=(r"esc to interrupt",),
                          error=(r"^■ ",))


def test_a_busy_marker_vetoes_idle():
    assert reading(TUI, "done\n›") == "idle"
    assert reading(TUI, "◦ Working (3s • esc to interrupt)\n›") == ""


def test_an_error_on_the_whole_screen_of_an_idle_agent_is_its_reason():
    screen_ = "■ boom\n" + "line\n" * 30 + "›"
    assert reading(TUI, screen_) == "error:■ boom"
    assert reading(TUI, "■ boom\n◦ Working (3s • esc to interrupt)\n›") == ""


def test_a_question_that_scrolled_up_is_history():
    asked = "Delete every file? (y/n)\n"
    assert reading(TUI, asked) == "waiting:Delete every file? (y/n)"
    later = asked + "y\n" + "".join(f"deleted file{i}\n" for i in range(8)) + "›"
    assert reading(TUI, later) == "idle"


def test_a_question_is_read_left_of_a_side_panel():
    panel = "\n".join(f"{left:<60}│{right}" for left, right in [
        ("Proceed? (y/n)", "diff"), ("", "a.py"), ("", ""), ("", "b.py"), ("", ""), ("", "")])
    assert screen.bottom(panel).splitlines() == ["Proceed? (y/n)"]
    assert reading(TUI, panel) == "waiting:Proceed? (y/n)"
    # without the cut, the panel's text would be the last words of every line
    assert reading(TUI, "\n".join(f"{'›':<60}│x" for _ in range(6))) == "idle"


@pytest.mark.parametrize("a,b", [
    ("◦ Working (9s • esc to interrupt)\n› Ask Codex to do anything",
     "• Working (1m 12s • esc to interrupt)\n› Ask Codex to do anything"),
    ("* Ruminating… (12s · esc to interrupt)", "✶ Ruminating… (1m 3s · esc to interrupt)"),
    ("✽ Cascading… (2s · ↓ 95 tokens)", "✻ Cascading… (31s · ↓ 1.2k tokens)"),
    ("✻ Catapulting… (26s)", "✢ Catapulting… (2m 26s)"),
])
def test_spinners_and_counters_of_the_real_agents_are_not_progress(a, b):
    assert screen.fingerprint(a) == screen.fingerprint(b)
