"""Wedged or doubled (issue 10): a tmux that cannot be reached is not "session gone", stop ends
whole process trees, sessions are namespaced per work directory, and only runners/ knows tmux.

Processes are found the way an operator would: by what is in their environment (/proc), so the
checks hold whatever the code under test believes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, Control, agent_profile, manifest, wait_for

FAST = {"retry_backoff_seconds": 0, "stall_minutes": 5}
HANG = {"agent": "hang", "agents": {"hang": agent_profile("hang.py")}}


def two(prefix: str = "t") -> list[dict]:
    return [{"id": f"{prefix}{i}", "title": f"task {i}", "files": [f"f{i}.txt"]} for i in range(2)]


def environ(pid: str) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return None  # a zombie has ended; only its parent has not noticed
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return None


def pids_with(prefix: str) -> list[int]:
    """Live processes whose environment has a variable starting with `prefix`."""
    needle = prefix.encode()
    return sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit()
                  and any(v.startswith(needle) for v in environ(pid) or ()))


def agents_of(control: Control, task_id: str, attempt: int | None = None) -> list[int]:
    """The processes an attempt started (the agent and everything it started), found by the
    prompt file the launcher put in their environment: it names this test's work directory."""
    name = f"attempt-{attempt}.prompt.md" if attempt else ""
    return pids_with(f"TASKORCH_PROMPT_FILE={control.workdir / 'runs' / task_id}/{name}")


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def tmux(runner, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(["tmux", *runner.where, *args], capture_output=True, text=True)


def server_pid(runner) -> int:  # type: ignore[no-untyped-def]
    return int(tmux(runner, "display-message", "-p", "#{pid}").stdout.strip())


@pytest.fixture
def short_dir():  # type: ignore[no-untyped-def]
    """A directory with a short path: a tmux socket path must fit in 104 bytes. Ask for it
    before `control`, so the server is shut down before its socket's directory goes."""
    path = Path(tempfile.mkdtemp(prefix="tol-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# 1. tmux that cannot be reached is not "session gone"

def test_a_deleted_tmux_socket_restarts_nothing(control):
    control.write(manifest([two()], **HANG, **FAST))
    control.doit("launch")
    runner = control.project().runner
    wait_for(lambda: all(agents_of(control, t) for t in ("t0", "t1")), what="both agents")
    before = {t: agents_of(control, t) for t in ("t0", "t1")}
    server = server_pid(runner)
    runner.socket_file.unlink()  # the server runs on, unreachable
    try:
        out = control.doit("heartbeat").stdout
        assert "its session is gone" not in out
        status = control.status()
        assert {s["status"] for s in status.values()} == {"running"}, out
        assert {s["attempts"] for s in status.values()} == {1}, out
        assert {t: agents_of(control, t) for t in ("t0", "t1")} == before, \
            "one agent per task, the same ones: nothing was started twice or killed"
    finally:
        os.kill(server, signal.SIGUSR1)  # tmux makes its socket again
        wait_for(runner.socket_file.exists, what="the socket to come back")
    assert {s["attempts"] for s in control.status().values()} == {1}
    control.doit("heartbeat")  # reachable again: the same sessions, watched as before
    assert {s["status"] for s in control.status().values()} == {"running"}
    assert {t: agents_of(control, t) for t in ("t0", "t1")} == before


def test_a_failing_tmux_fails_no_task_and_kills_no_agent(control, tmp_path):
    control.write(manifest([two()], **HANG, **FAST))
    control.doit("launch")
    wait_for(lambda: all(agents_of(control, t) for t in ("t0", "t1")), what="both agents")
    before = {t: agents_of(control, t) for t in ("t0", "t1")}
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "tmux").write_text("#!/bin/sh\necho 'protocol version mismatch (client 8, server 7)' >&2\n"
                               "exit 1\n")
    (fake / "tmux").chmod(0o755)
    control.env["PATH"] = f"{fake}:{os.environ['PATH']}"
    out = control.doit("heartbeat").stdout
    lines = [line for line in out.splitlines() if "protocol version mismatch" in line]
    assert len(lines) == 1, out  # one line says why nothing was observed
    status = control.status()
    assert {s["status"] for s in status.values()} == {"running"}, out
    assert {s["attempts"] for s in status.values()} == {1}, out
    assert {t: agents_of(control, t) for t in ("t0", "t1")} == before
    del control.env["PATH"]
    control.doit("heartbeat")
    assert {s["status"] for s in control.status().values()} == {"running"}
    assert {t: agents_of(control, t) for t in ("t0", "t1")} == before


def test_a_socket_path_that_is_not_a_socket_fails_no_task(short_dir, control):
    sock = short_dir / "sock"
    control.write(manifest([two()], socket=str(sock), **HANG, **FAST))
    control.doit("launch")
    wait_for(lambda: all(agents_of(control, t) for t in ("t0", "t1")), what="both agents")
    before = {t: agents_of(control, t) for t in ("t0", "t1")}
    sock.rename(short_dir / "real")
    sock.write_text("not a socket\n")
    try:
        out = control.doit("heartbeat").stdout
        status = control.status()
        assert {s["status"] for s in status.values()} == {"running"}, out
        assert {s["attempts"] for s in status.values()} == {1}, out
        assert {t: agents_of(control, t) for t in ("t0", "t1")} == before
    finally:
        sock.unlink()
        (short_dir / "real").rename(sock)
    control.doit("heartbeat")
    assert {s["attempts"] for s in control.status().values()} == {1}


# 2. stop ends whole process trees

def test_stop_ends_an_agent_that_ignores_hup_and_term(control):
    stubborn = {"command": ["bash", "-c", "trap '' HUP TERM; echo stubborn; while :; do sleep 1; done",
                            "agent"]}
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}]], agent="stubborn",
                           agents={"stubborn": stubborn}, **FAST))
    control.doit("launch")
    wait_for(lambda: agents_of(control, "a"), what="the agent")
    try:
        out = control.doit("stop", "a").stdout
        assert "a: stopped" in out
        assert agents_of(control, "a") == [], "stop said stopped while the agent still ran"
        assert pids_with(f"TASKORCH_RUN={control.project().runner.key}/a/") == []
    finally:
        kill_all(agents_of(control, "a"))


DAEMON = ("setsid sh -c 'while :; do echo \"$TASKORCH_ATTEMPT\" >> \"$0\"; sleep 0.1; done' \"$1\" "
          "</dev/null >/dev/null 2>&1 & "
          "while [ ! -s \"$1\" ]; do sleep 0.05; done; "
          "[ \"$TASKORCH_ATTEMPT\" = 1 ] && exit 3; sleep 1000")


def test_a_setsid_daemon_survives_neither_restart_nor_stop(control, tmp_path):
    written = tmp_path / "daemon.out"
    agent = {"command": ["bash", "-c", DAEMON, "agent", str(written)]}
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}]], agent="d",
                           agents={"d": agent}, max_attempts=3, **FAST))
    control.doit("launch")
    try:
        wait_for((control.workdir / "runs" / "a" / "attempt-1.exit").exists,
                 what="the first attempt to fail")
        assert agents_of(control, "a", 1), "its daemon lives on after the agent exited"
        out = control.doit("heartbeat").stdout
        assert "launched attempt 2" in out, out
        assert agents_of(control, "a", 1) == [], "the first attempt's daemon survived the restart"
        wait_for(lambda: "2\n" in written.read_text(), what="the second attempt's daemon")
        out = control.doit("stop", "a").stdout
        assert "a: stopped" in out
        assert agents_of(control, "a") == [], "a daemon survived stop"
        size = written.stat().st_size
        assert pids_with(f"TASKORCH_RUN={control.project().runner.key}/a/") == []
        control.status()  # takes longer than the daemon's 0.1 s between writes
        assert written.stat().st_size == size, "something still writes"
    finally:
        kill_all(agents_of(control, "a"))


# 3. sessions and servers namespaced per project and work directory

def test_two_projects_on_one_socket_keep_to_their_own_sessions(short_dir, control, tmp_path):
    sock = str(short_dir / "shared")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = Control(other_dir)
    one = [{"id": "a", "title": "a", "files": ["a"]}]
    control.write(manifest([one], socket=sock, **HANG, **FAST))
    other.write(manifest([one], socket=sock, **HANG, **FAST))
    try:
        control.doit("launch")
        out = other.doit("launch").stdout
        assert "launched attempt 1" in out and "adopted" not in out, out
        mine, theirs = control.project(), other.project()
        assert mine.session_name("a") != theirs.session_name("a")
        assert mine.session_name("a").startswith("to-")
        assert set(control.sessions()) == {mine.session_name("a")}
        assert set(other.sessions()) == {theirs.session_name("a")}
        wait_for(lambda: agents_of(control, "a") and agents_of(other, "a"), what="both agents")
        theirs_before = agents_of(other, "a")
        printed = control.doit("attach", "--print", "a").stdout.strip()
        assert printed.endswith(f"attach-session -t ={mine.session_name('a')}")

        control.doit("cleanup", "--all", "--yes")
        assert agents_of(control, "a") == []
        assert agents_of(other, "a") == theirs_before, "cleanup killed another project's agent"
        assert set(other.sessions()) == {theirs.session_name("a")}
        other.doit("heartbeat")
        assert other.status()["a"]["status"] == "running"
        assert other.status()["a"]["attempts"] == 1
    finally:
        other.shut_down()
        kill_all(agents_of(control, "a") + agents_of(other, "a"))


# 4. only runners/ knows tmux

def test_tmux_is_named_only_inside_runners():
    from taskorch.runners import base, runner_for
    from taskorch.runners.tmux import TmuxError, TmuxRunner

    assert issubclass(TmuxError, base.RunnerError) and callable(runner_for)
    for name in ("snapshot", "capture", "start", "stop", "send", "press", "reap", "alive",
                 "attach_argv", "kill_server"):
        assert hasattr(base.Runner, name) and hasattr(TmuxRunner, name), name
    package = ROOT / "lib" / "taskorch"
    for path in package.rglob("*.py"):
        if "runners" in path.relative_to(package).parts:
            continue
        text = path.read_text()
        for word in ("TmuxRunner", "TmuxError", "runners.tmux"):
            assert word not in text, f"{path.relative_to(package)} names {word}"


def test_a_reused_pid_is_not_taken_for_the_recorded_wrapper():
    from taskorch.runners import procs

    other = subprocess.Popen(["sleep", "30"], start_new_session=True)  # leads its own group
    try:
        own = wait_for(lambda: procs.stat(other.pid), what="the process")
        record = {"pid": other.pid, "pgid": other.pid, "sid": other.pid, "parent": os.getpid(),
                  "boot": procs.boot_id(), "start": own.start - 100}  # an older process's id
        assert not procs.alive([record])
        assert procs.end([record], None) == [] and other.poll() is None, "an unrelated group"
        record["start"] = own.start  # the recorded wrapper itself: alive, and ended whole
        assert procs.alive([record])
        assert procs.end([record], None) == []
        assert other.wait(timeout=5) == -signal.SIGTERM
    finally:
        other.kill()
        other.wait()
