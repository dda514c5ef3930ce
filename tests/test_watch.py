"""`doit status --watch` (issue 13) in a real terminal: a pane of a tmux server on a private
socket runs it while the test changes task states through doit's CLI, and reads the pane."""

from __future__ import annotations


import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import AGENTS, manifest, wait_for
from taskorch.interrupts import Interrupts


class Pane:
    """One tmux session on its own socket (not the control's runner's) running a command."""

    def __init__(self, socket: str, cwd: Path) -> None:
        self.socket, self.cwd = socket, cwd

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True).stdout

    def start(self, name: str, command: str, width: int, height: int, **env: str) -> None:
        line = " ".join(["cd", shlex.quote(str(self.cwd)), "&&", "exec", "env",
                         *(f"{k}={shlex.quote(v)}" for k, v in env.items()), command])
        self.tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), line)
        self.tmux("set-option", "-t", name, "remain-on-exit", "on")

    def screen(self, name: str, escapes: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", name)

    def rows(self, name: str) -> list[str]:
        return [line for line in self.screen(name).splitlines() if line.strip()]

    def ended(self, name: str) -> list[str] | None:
        """["1", <exit status>] once the pane's program has exited (["1"] if killed by a
        signal), else None. Debian's tmux misses about one SIGCHLD in twelve and shows a dead
        pane with no status (DESIGN.md); a SIGCHLD sent to the server makes it reap, as the
        runner does (runners/tmux.py reap), before the status is believed missing."""
        dead = self.tmux("display-message", "-p", "-t", name,
                         "#{pane_dead} #{pane_dead_status}").split()
        if dead[:1] != ["1"]:
            return None
        for _ in range(20):
            if len(dead) > 1:
                return dead
            os.kill(int(self.tmux("display-message", "-p", "#{pid}").strip()), signal.SIGCHLD)
            time.sleep(0.05)  # the server reaps on its next loop
            dead = self.tmux("display-message", "-p", "-t", name,
                             "#{pane_dead} #{pane_dead_status}").split()
        return dead


@pytest.fixture
def pane(tmp_path: Path, control):  # type: ignore[no-untyped-def]
    p = Pane(f"taskorch-watch-{os.getpid()}-{tmp_path.name}", control.path)
    yield p
    subprocess.run(["tmux", "-L", p.socket, "kill-server"], capture_output=True)


WATCH = f"{shlex.quote(sys.executable)} -m doit status --watch --interval 0.3"


def _state_rows(rows: list[str]) -> dict[str, int]:
    """Where each task's row is on the screen."""
    at = {}
    for i, row in enumerate(rows):
        words = row.replace("!", " ").split()
        if words and words[0] in ("t1", "t2", "t3"):
            at[words[0]] = i
    return at


def test_the_table_follows_state_changes_needs_you_first(control, pane):
    hang = {"command": [sys.executable, str(AGENTS / "hang.py")]}
    control.write(manifest([[
        {"id": "t1", "title": "one", "files": ["a"]},
        {"id": "t2", "title": "two", "files": ["b"]},
        {"id": "t3", "title": "three", "files": ["c"], "dependsOn": ["t1"]},
    ]], agent="hang", agents={"hang": hang}))
    pane.start("w", WATCH, 120, 20, PYTHONDONTWRITEBYTECODE="1")
    wait_for(lambda: "pending" in pane.screen("w"), what="the first table")
    before = pane.screen("w")
    assert "running" not in before and "blocked" in before

    control.doit("launch")  # t1 and t2 start; t3 waits for t1
    wait_for(lambda: pane.screen("w").count(" running ") == 2, what="two running rows")
    control.doit("stop", "t2")  # t2 needs a person now
    rows = wait_for(lambda: "stuck" in pane.screen("w") and pane.rows("w"), what="t2 stuck")
    at = _state_rows(rows)
    assert at["t2"] < at["t1"] < at["t3"], rows  # needs you, then running, then the rest
    assert rows[at["t2"]].lstrip().startswith("!") and "stuck" in rows[at["t2"]]
    assert "1 needs you" in rows[0]
    assert sum("taskorch test:" in row for row in rows) == 1  # redrawn in place, not appended
    coloured = pane.screen("w", escapes=True)
    assert "\x1b[" in coloured  # a terminal gets colour ...

    # a narrow terminal: every row cut to its width, none wrapped onto the next line
    pane.tmux("resize-window", "-t", "w", "-x", "44", "-y", "20")
    rows = wait_for(lambda: (r := pane.rows("w")) and all(len(x) <= 44 for x in r)
                    and any(x.endswith("…") for x in r) and r, what="a table cut to 44 columns")
    at = _state_rows(rows)
    assert set(at) == {"t1", "t2", "t3"} and at["t2"] < at["t1"] < at["t3"], rows
    assert rows[-1].startswith("health:")  # the last line is the last line, not a wrapped tail

    # Ctrl-C ends it with status 0, and a second one typed at once, while it exits, does not
    # turn that into a traceback (CI: a retyped Ctrl-C landed in doit's exit).
    pane.tmux("send-keys", "-t", "w", "C-c")
    pane.tmux("send-keys", "-t", "w", "C-c")
    dead = wait_for(lambda: pane.ended("w"), what="Ctrl-C to end it")
    assert dead == ["1", "0"], (dead, pane.screen("w"))


def test_no_color_means_no_colour(control, pane):
    control.write(manifest([[{"id": "t1", "title": "one", "files": ["a"]}]]))
    pane.start("n", WATCH, 100, 12, PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1")
    wait_for(lambda: "pending" in pane.screen("n"), what="the table")
    assert "\x1b[" not in pane.screen("n", escapes=True)


def test_a_burst_of_ctrl_c_ends_it_with_status_0(control):
    """Ctrl-C is a flag the loop reads (interrupts.py), never an exception: with
    KeyboardInterrupt, one more SIGINT landing while the first was handled escaped, even from the
    `signal.signal()` call meant to ignore it, and Python died by SIGINT (CI, twice)."""
    control.write(manifest([[{"id": "t1", "title": "one", "files": ["a"]}]]))
    proc = subprocess.Popen([sys.executable, "-m", "doit", "status", "--watch", "--interval",
                             "0.2"], cwd=control.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("taskorch test:")
        for _ in range(2000):  # spaced a little, so they are not merged into one pending signal
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGINT)
            time.sleep(0.0001)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, (proc.returncode, err)


def test_interrupts_count_sigints_and_leave_them_ignored() -> None:
    """In process: a burst of SIGINTs inside is counted, never raised; after, SIGINT is
    ignored (the command exits next)."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        with Interrupts() as stop:
            assert not stop
            for _ in range(100):
                os.kill(os.getpid(), signal.SIGINT)
            assert stop and stop.count >= 1
        os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt, or kill the worker
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
