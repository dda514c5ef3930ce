"""The stall rules on the real agent CLIs (codex, Claude Code, aider; interactive and headless),
driven through the doit CLI against the scripted model server, as tests/test_real_agents.py does:

- a long tool step is work, not a stall: the heartbeat runs again and again while it runs, and
  the agent is neither nudged, failed nor restarted;
- a model that never answers is a stall: an interactive agent is nudged once, then restarted;
  a headless one (which reads no terminal) is restarted without a nudge. The retry merges.

The long step is 10 s (`--slow-agents`: 25 s), with stall_minutes (5) far above it, so it is the
screen, hook and event judgement that is tested, not the stall clock. aider runs no shell tools:
its long step is its own test run after its commit (AIDER_AUTO_TEST, AIDER_TEST_CMD). A hung
codex exec, claude -p or aider never gives up by itself (tests/realagents/README.md, "Surprises"
2 and 3): only the stall restart ends it. Each scenario runs on two profiles by default and on
all five with `--all-agents` (test_real_agents.matrix).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import manifest, wait_for
from test_heartbeat import journal, story
from test_nudges import nudges_before_the_restart
from test_real_agents import (AIDER_MODEL, EDIT, isolate, marked, matrix, model,  # noqa: F401
                              reasons, remote_has_hello, script)

# Every profile (with --all-agents), in the order that packed the whole file best under
# `pytest -n 4`: the slowest, the hung model on Claude, first; the long step headless last.
HUNG = ("claude", "codex-exec", "claude-p", "aider", "codex")
LONG = ("aider", "claude", "codex", "claude-p", "codex-exec")
INTERACTIVE = ("codex", "claude")
STALL = 0.1  # minutes: the hung model's stall, nudge and restart take 6 s each
# Seconds between heartbeats. beat_until's 0.1 s keeps a core busy per test with doit's start-up
# alone; under `pytest -n 4` on 2 cores that starved the agents (the file took 3 minutes).
EVERY = 1.5


def task(control) -> dict:  # type: ignore[no-untyped-def]
    """Task a's row, read from the state database (cheaper than a `doit status` per beat)."""
    db = sqlite3.connect(control.workdir / "state.db")
    try:
        status, attempts, reason = db.execute(
            "SELECT status, attempts, reason FROM tasks WHERE id = 'a'").fetchone()
    finally:
        db.close()
    return {"status": status, "attempts": attempts, "reason": reason}


def beat(control, until, timeout: float, what: str,  # type: ignore[no-untyped-def]
         beats: list | None = None) -> dict:
    """Run `doit heartbeat` every EVERY seconds until until(task a) holds; return task a.
    Each beat's (start, end, task a after it) goes to `beats`."""
    def one() -> dict | None:
        began = time.time()
        control.doit("heartbeat")
        seen = task(control)
        if beats is not None:
            beats.append((began, time.time(), seen))
        return seen if until(seen) else None
    return wait_for(one, timeout=timeout, interval=EVERY, what=what)


def launch(control, remote: Path, server, tmp_path: Path,  # type: ignore[no-untyped-def]
           profile: str, steps: list[dict], **top) -> None:
    """Task `a` on `profile` against the scripted `steps` (test_real_agents.start, with the
    manifest's own stall_minutes and backoff)."""
    isolate(control, server, tmp_path)
    script(server, steps)
    if profile == "aider":
        top.setdefault("model", AIDER_MODEL)
    top = {"stall_minutes": 5, "retry_backoff_seconds": 0, **top}
    control.write(manifest([[{"id": "a", "title": "Add hello.txt", "files": ["hello.txt"],
                              "body": "Create hello.txt holding hello, and commit it."}]],
                           repo=str(remote), agent=profile, merge="auto", **top))
    control.doit("launch")


def sleeper(seconds: int, marks: Path) -> str:
    """A shell command that runs `seconds` and leaves `started`, then `slept`, in `marks`.
    Not `sleep N`: Claude's Bash tool refuses that (README, "Surprises" 7)."""
    return (f'python3 -c "import pathlib, time; d = pathlib.Path(\'{marks}\'); '
            f"(d / 'started').touch(); time.sleep({seconds}); (d / 'slept').touch()\"")


@pytest.mark.parametrize("profile", matrix(HUNG, ci=("codex", "claude-p")))
def test_a_model_that_hangs_is_restarted_and_the_retry_merges(control, remote,
                                                              model, tmp_path,  # noqa: F811
                                                              profile):
    # Every request hangs, so an agent that asks again (after the nudge, say) still gets
    # nothing. The backoff (1 to 2 s) leaves time to give the model back before attempt 2 asks.
    launch(control, remote, model, tmp_path, profile, [{"hang": None}] * 5,
           stall_minutes=STALL, retry_backoff_seconds=2)
    wait_for(lambda: any(r.get("steps") and "hang" in r["steps"][0] for r in model.requests()),
             timeout=60, interval=0.5, what=f"{profile} to ask the model")
    pid_file = control.workdir / "runs" / "a" / "attempt-1.pid"
    marker = json.loads(pid_file.read_text())["marker"]
    assert marked(marker), "attempt 1 runs with its marker"
    seen = beat(control, lambda t: t["status"] != "running" or t["attempts"] > 1, timeout=60,
                what=f"{profile}'s stall to fail attempt 1")
    assert seen["status"] == "error" and seen["attempts"] == 1, seen
    script(model, EDIT)  # the model is back for the retry
    beat(control, lambda t: t["attempts"] >= 2, timeout=30, what=f"{profile}'s restart")
    assert marked(marker) == [], "attempt 1's processes are all gone after the restart"
    beat(control, lambda t: t["status"] in ("merged", "stuck") or t["attempts"] > 2, timeout=90,
         what=f"{profile}'s retry to merge")
    first = reasons(control, "error")[0]
    if profile in INTERACTIVE:
        assert len(nudges_before_the_restart(control)) == 1, story(control, "a")
        assert "after a nudge" in first, first
    else:
        assert not any(r.startswith("nudged after") for _, r in journal(control, "a"))
        assert "not nudged: its agent reads no terminal (a headless profile)" in first, first
    assert "no progress for" in first, first
    status = control.status()["a"]
    assert status["status"] == "merged" and status["attempts"] == 2, \
        f"{status}\n" + story(control, "a")
    assert remote_has_hello(remote)
    retry_prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert "no progress for" in retry_prompt


@pytest.mark.parametrize("profile", matrix(LONG, ci=("claude", "codex-exec")))
def test_a_long_tool_step_is_left_alone(control, remote, model, tmp_path, profile,  # noqa: F811
                                        request):
    # CI: 6 s, several heartbeats (one each 1.5 s) looking at a screen that does not change
    seconds = 25 if request.config.getoption("--slow-agents") else 6
    marks = tmp_path / "marks"
    marks.mkdir()
    command = sleeper(seconds, marks)
    if profile == "aider":  # its test run after the commit is the long step; exit 0 passes it
        control.env.update(AIDER_AUTO_TEST="true", AIDER_TEST_CMD=command)
        steps = EDIT
    else:
        # codex's exec_command returns after 10 s unless told to wait longer (README, 6)
        args = {"yield_time_ms": (seconds + 30) * 1000} if profile.startswith("codex") else {}
        steps = [{"shell": command, "args": args, "text": "Running the long check first."},
                 *EDIT]
    launch(control, remote, model, tmp_path, profile, steps)
    beats: list = []
    beat(control, lambda t: t["status"] in ("merged", "error", "stuck") or t["attempts"] > 1,
         timeout=seconds + 90, what=f"{profile} to merge", beats=beats)
    assert (marks / "slept").exists(), "the long step ran to its end"
    began, ended = (marks / "started").stat().st_mtime, (marks / "slept").stat().st_mtime
    assert ended - began >= seconds - 0.5
    during = [seen for start, end, seen in beats if began <= start and end <= ended]
    assert len(during) >= max(1, seconds // 10), \
        f"only {len(during)} heartbeats ran while the step ran"
    assert all(t["status"] == "running" and t["attempts"] == 1 for t in during), during
    status = control.status()["a"]
    assert status["status"] == "merged" and status["attempts"] == 1, status
    assert remote_has_hello(remote)
    events = journal(control, "a")
    assert not any(r.startswith("nudged after") for _, r in events), events
    assert not any(new in ("error", "stuck") for new, _ in events), events
