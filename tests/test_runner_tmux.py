"""The tmux runner on a private server: start, snapshot, capture, stop, and the exit file."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from conftest import AGENTS, wait_for
from taskorch.runners.tmux import TmuxRunner
from taskorch.wrapper import record


@pytest.fixture
def runner(tmp_path: Path):  # type: ignore[no-untyped-def]
    r = TmuxRunner(f"taskorch-test-{os.getpid()}-{tmp_path.name}", tmp_path / "tmux.conf")
    yield r
    r.kill_server()


def wrapped(tmp_path: Path, name: str, argv: list[str]) -> list[str]:
    spec = tmp_path / f"{name}.json"
    prompt = tmp_path / f"{name}.prompt"
    prompt.write_text("hello")
    spec.write_text(json.dumps({"argv": argv, "prompt_file": str(prompt), "cwd": str(tmp_path),
                                "exit_file": str(tmp_path / f"{name}.exit")}))
    return [sys.executable, "-m", "taskorch.wrapper", str(spec)]


def test_exit_code_is_kept_by_the_pane_and_the_exit_file(runner, tmp_path):
    runner.start("f", wrapped(tmp_path, "f", [sys.executable, str(AGENTS / "fail.py"), "5"]),
                 tmp_path, tmp_path / "f.log")
    wait_for(lambda: (tmp_path / "f.exit").exists(), what="the exit file")
    assert json.loads((tmp_path / "f.exit").read_text())["code"] == 5
    pane = wait_for(lambda: (p := runner.snapshot().get("f")) and p.dead and p, what="a dead pane")
    assert pane.dead  # remain-on-exit keeps it for the heartbeat to read
    assert "fail-agent: error: something broke" in (tmp_path / "f.log").read_text()


def test_an_agent_killed_by_a_signal_is_recorded_as_such(tmp_path):
    record(tmp_path / "x.exit", -signal.SIGKILL)
    assert json.loads((tmp_path / "x.exit").read_text())["signal"] == signal.SIGKILL
    assert json.loads((tmp_path / "x.exit").read_text())["code"] == 128 + signal.SIGKILL


def test_missing_agent_program_is_a_clear_127(runner, tmp_path):
    runner.start("m", wrapped(tmp_path, "m", ["no-such-agent-xyz", "arg"]), tmp_path, tmp_path / "m.log")
    wait_for(lambda: (tmp_path / "m.exit").exists(), what="the exit file")
    assert json.loads((tmp_path / "m.exit").read_text())["code"] == 127
    wait_for(lambda: "agent program 'no-such-agent-xyz' not found" in (tmp_path / "m.log").read_text(),
             what="the message in the log")


def test_capture_reads_many_sessions_in_one_batch(runner, tmp_path):
    for i in range(5):
        runner.start(f"s{i}", [sys.executable, "-c", f"print('screen of s{i}'); import time; time.sleep(60)"],
                     tmp_path, tmp_path / f"s{i}.log")
    names = [f"s{i}" for i in range(5)]
    screens = wait_for(lambda: (c := runner.capture(names)) and all(
        f"screen of {n}" in c.get(n, "") for n in names) and c, what="every screen")
    assert set(screens) == set(names)
    for n in names:
        others = [m for m in names if m != n]
        assert not any(f"screen of {m}" in screens[n] for m in others)


def test_stop_is_idempotent(runner, tmp_path):
    runner.start("s", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, tmp_path / "l")
    assert "s" in runner.snapshot()
    runner.stop("s")
    runner.stop("s")
    assert "s" not in runner.snapshot()


def test_snapshot_of_no_server_is_empty(runner):
    assert runner.snapshot() == {}


def test_capture_skips_a_session_that_ended_since_the_snapshot(runner, tmp_path):
    for name in ("a", "b", "c"):
        runner.start(name, [sys.executable, "-c", f"print('screen {name}'); import time; time.sleep(60)"],
                     tmp_path, tmp_path / f"{name}.log")
    # Each session prints on its own schedule: wait for both screens that the assertion reads.
    for name in ("a", "c"):
        wait_for(lambda: f"screen {name}" in runner.capture([name]).get(name, ""), what=f"{name}'s screen")
    runner.stop("b")
    screens = runner.capture(["a", "b", "c"])
    assert set(screens) == {"a", "c"} and "screen a" in screens["a"]
