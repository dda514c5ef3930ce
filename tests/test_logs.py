"""`doit logs <id> [--attempt N] [-f]` (issue 13): one attempt's output, escape-free, through
doit's real CLI, real tmux and a real pipe-pane log with every attempt appended."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import manifest, wait_for
from taskorch import attemptlog, excerpt
from taskorch.layout import Layout

# An agent whose output is full of what a terminal would act on: a window title (OSC), colour,
# a bell, a spinner redrawn with \r, a line erased and rewritten, a clipboard write (OSC 52).
NOISY = r'''
import os, sys, time
n = os.environ["TASKORCH_ATTEMPT"]
w = sys.stdout.write
w("\x1b]0;pwned title\x07\x1b[31mred line of attempt " + n + "\x1b[0m\n")
for frame in "|/-\\":
    w("\r" + frame + " working"); sys.stdout.flush(); time.sleep(0.01)
w("\rdone working   \n")
w("\x1b]52;c;ZWNobyBwd25lZA==\x07wrong text\x1b[2K\rright text " + n + "\a\n")
w("end of attempt " + n + "\n")
sys.stdout.flush()
sys.exit(3)
'''

# Prints a line, waits for GO (a file), prints another, exits 0; or hangs if told to.
SLOW = r'''
import os, sys, time
from pathlib import Path
print("first line", flush=True)
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.05)
print("second line", flush=True)
'''


def _agent(tmp_path: Path, name: str, source: str, *args: str) -> dict:
    script = tmp_path / f"{name}.py"
    script.write_text(source)
    return {"command": [sys.executable, str(script), *args]}


def _tasks(**agents: str) -> list[dict]:
    return [{"id": tid, "title": tid, "files": [f"{tid}.txt"], "agent": agent}
            for tid, agent in agents.items()]


def test_each_attempt_is_shown_apart_and_escape_free(control, tmp_path):
    control.write(manifest([_tasks(t1="noisy")], retry_backoff_seconds=0, max_attempts=2,
                           agents={"noisy": _agent(tmp_path, "noisy", NOISY)}))
    control.doit("launch")
    exit_file = control.workdir / "runs" / "t1" / "attempt-1.exit"
    wait_for(exit_file.exists, what="attempt 1's exit")
    control.doit("heartbeat")  # records the failure and restarts it at once (backoff 0)
    wait_for((control.workdir / "runs" / "t1" / "attempt-2.exit").exists, what="attempt 2's exit")
    control.doit("heartbeat")  # records it; the budget (2) is spent: no attempt 3
    log = control.workdir / "logs" / "t1.log"
    wait_for(lambda: b"end of attempt 2" in log.read_bytes(), what="attempt 2 in the log")
    assert b"\x1b]0;pwned" in log.read_bytes()  # the raw log has it all ...

    current = control.doit("logs", "t1").stdout
    first = control.doit("logs", "--attempt=1", "t1").stdout
    for text, n, other in ((current, "2", "1"), (first, "1", "2")):
        lines = text.splitlines()
        # ... what is printed is what the terminal showed, and nothing that acts on one
        assert f"red line of attempt {n}" in lines
        assert "done working" in lines and f"right text {n}" in lines
        assert f"end of attempt {n}" in lines
        assert f"attempt {other}" not in text, text
        assert not any(ch in text for ch in "\x1b\x07\r\x9b"), repr(text)
        assert "pwned" not in text and "wrong text" not in text and "working   " not in text

    # launch recorded where each attempt starts: attempt 2 starts where attempt 1 ended
    layout = Layout(control.workdir)
    starts = [attemptlog.recorded_start(layout, "t1", n) for n in (1, 2)]
    end_1 = json.loads(layout.failure_file("t1", 1).read_text())["log_end"]
    assert starts[0] == 0 and end_1 <= starts[1] < log.stat().st_size
    assert b"end of attempt 1" in log.read_bytes()[:starts[1]]
    assert excerpt.log_start(layout, "t1", 2) == starts[1]  # the retry excerpt reads the same


def test_without_the_launch_record_the_failure_record_splits_the_log(tmp_path):
    """Runs from before `attempt-N.log_start`: attempt N+1 starts at attempt N's `log_end`."""
    layout = Layout(tmp_path)
    layout.log("t1").parent.mkdir(parents=True)
    layout.log("t1").write_bytes(b"one\n" + b"two\n" + b"three\n")
    layout.failure_file("t1", 1).parent.mkdir(parents=True)
    layout.failure_file("t1", 1).write_text(json.dumps({"log_end": 4}))
    layout.failure_file("t1", 2).write_text(json.dumps({"log_end": 8}))
    assert [attemptlog.read(layout, "t1", n, 3) for n in (1, 2, 3)] == \
        [b"one\n", b"two\n", b"three\n"]
    attemptlog.start_file(layout, "t1", 3).write_text("6\n")  # a recorded start wins
    assert attemptlog.read(layout, "t1", 3, 3) == b"o\nthree\n"
    assert attemptlog.read(layout, "t1", 2, 3) == b"tw"


def _popen(control, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=control.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    assert sel.select(timeout), "no output in time"
    return proc.stdout.readline()


def test_follow_prints_as_it_comes_and_ends_with_the_attempt(control, tmp_path):
    go = tmp_path / "go"
    control.write(manifest([_tasks(t1="slow")], agents={"slow": _agent(tmp_path, "slow", SLOW,
                                                                       str(go))}))
    control.doit("launch")
    proc = _popen(control, "logs", "t1", "-f")
    try:
        assert _read_line(proc, 15) == "first line\n"  # shown while the agent still runs
        assert proc.poll() is None
        go.touch()
        rest, err = proc.communicate(timeout=20)  # it ends by itself once the agent has exited
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert rest.splitlines() == ["second line"]


def test_follow_ends_quietly_on_ctrl_c(control, tmp_path):
    control.write(manifest([_tasks(t1="slow")], agents={"slow": _agent(tmp_path, "slow", SLOW,
                                                                       str(tmp_path / "never"))}))
    control.doit("launch")
    proc = _popen(control, "logs", "--follow", "t1")
    try:
        assert _read_line(proc, 15) == "first line\n"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err


def test_what_cannot_be_shown_is_said_in_one_line(control, tmp_path):
    control.write(manifest([_tasks(t1="slow", t2="slow")],
                           agents={"slow": _agent(tmp_path, "slow", SLOW, str(tmp_path / "go"))}))
    control.doit("launch:t1")
    wait_for(lambda: b"first line" in (control.workdir / "logs" / "t1.log").read_bytes(),
             what="t1's output")
    for args, said in ((("logs", "nope"), "logs: no task 'nope' in orchestrator.yaml"),
                       (("logs", "t2"), "logs: t2 has not started yet; it has no output"),
                       (("logs", "t1", "--attempt", "2"),
                        "logs: t1 has had 1 attempt(s); there is no attempt 2"),
                       (("logs", "t1", "--attempt", "x"),
                        "logs: --attempt takes a number from 1, not 'x'"),
                       (("logs",), "usage: doit logs <task id> [--attempt N] [-f]")):
        result = control.doit(*args, check=False)
        assert result.returncode != 0, args
        assert said in result.stdout + result.stderr, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
