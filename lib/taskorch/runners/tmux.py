"""Agents in tmux sessions on a private server that taskorch owns.

Measured facts this relies on (DESIGN.md): remain-on-exit must come from the server's config file,
pipe-pane must start in the same call as new-session, an argument ending in ';' splits tmux
commands even in argv form, and a one-element command goes through a shell.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable

from taskorch.runners import procs
from taskorch.runners.base import Pane, RunnerError, session_prefix

CONFIG = """\
# Written by taskorch. Read only when this private server starts.
set -g remain-on-exit on
set -g history-limit 50000
set -g default-size 200x50
"""
FORMAT = "\t".join(["#{session_name}", "#{pane_dead}", "#{pane_dead_status}",
                    "#{pane_dead_signal}", "#{pane_pid}", "#{window_activity}"])
TMUX_TIMEOUT = 30.0  # seconds; a capture of 100 panes takes about 20 ms
MARK = "\x1etaskorch-capture\x1e"
SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


def config_text(on_exit: Path | None) -> str:
    """The server's config. `on_exit` is a script run (in the background) when any pane dies;
    it goes through tmux's parser and a shell, so only a plain path is accepted."""
    if on_exit is None or not SAFE_PATH.match(str(on_exit)):
        return CONFIG
    return CONFIG + f"set-hook -g pane-died \"run-shell -b '{on_exit}'\"\n"


class TmuxError(RunnerError):
    pass


def _no_server(exc: TmuxError) -> bool:
    """tmux's ways of saying there is no server at the socket's path: none ever started, or a
    stale socket file. A server whose socket file was deleted says the same, so a session
    missing from the snapshot is checked against the agent's processes (`alive`)."""
    text = str(exc)
    return "no server running" in text or ("error connecting" in text and (
        "No such file or directory" in text or "Connection refused" in text))


class TmuxRunner:
    def __init__(self, socket_name: str, config: Path, socket_path: str | None = None,
                 on_exit: Path | None = None, key: str = "",
                 runs: Callable[[str], Path] | None = None):
        """`key` names this project's sessions (runners.base.session_name): the server may be
        shared (a manifest's `socket:`), and only they are seen, stopped or killed. `runs` maps
        a task id to the directory of its wrapper's attempt-N.pid records."""
        self.key, self.prefix, self.runs = key, session_prefix(key) if key else "", runs
        config.parent.mkdir(parents=True, exist_ok=True)
        text = config_text(on_exit)
        if not config.exists() or config.read_text() != text:
            config.write_text(text)
        where = ("-S", socket_path) if socket_path else ("-L", socket_name)
        self.where = where
        if shutil.which("tmux") is None:
            raise TmuxError("tmux is not installed; install it (e.g. apt-get install tmux)")
        # subprocess, with a timeout: a tmux server that stops answering must not hold the
        # heartbeat (and sh's own timeout polls, adding 100 ms a call).
        self._tmux = ["tmux", *where, "-f", str(config)]
        self.socket_file = Path(socket_path) if socket_path else Path(
            os.environ.get("TMUX_TMPDIR", "/tmp"), f"tmux-{os.getuid()}", socket_name)

    def attach_argv(self, session: str) -> list[str]:
        return ["tmux", *self.where, "attach-session", "-t", f"={session}"]

    def _run(self, *args: str, stdin: str | None = None) -> str:
        for arg in args:
            if arg.endswith(";") and arg != ";":
                raise TmuxError(f"refusing a tmux argument that ends in ';': {arg!r}")
        try:
            proc = subprocess.run([*self._tmux, *args], capture_output=True, timeout=TMUX_TIMEOUT,
                                  input=stdin.encode() if stdin is not None else None,
                                  stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TmuxError(f"tmux {args[0]} gave no answer in {TMUX_TIMEOUT:g} s") from None
        if proc.returncode != 0:
            raise TmuxError(proc.stderr.decode(errors="replace").strip())
        return proc.stdout.decode(errors="replace")

    def start(self, session: str, argv: list[str], cwd: Path, log: Path) -> None:
        if len(argv) < 2:
            raise TmuxError("an agent command needs two or more argv elements, or tmux uses a shell")
        log.parent.mkdir(parents=True, exist_ok=True)
        # pipe-pane's argument is a shell command by tmux's design; only our own path goes in.
        self._run("new-session", "-d", "-s", session, "-c", str(cwd), "-x", "200", "-y", "50",
                  *argv, ";", "pipe-pane", "-o", "-t", f"={session}:", f"cat >> {shlex.quote(str(log))}")

    def owns(self, session: str) -> bool:
        return session.startswith(self.prefix)

    def _not_a_socket(self) -> TmuxError | None:
        try:
            mode = self.socket_file.stat().st_mode
        except OSError:
            return None
        if stat.S_ISSOCK(mode):
            return None
        return TmuxError(f"{self.socket_file} is not a socket; tmux cannot be asked")

    def snapshot(self) -> dict[str, Pane]:
        try:
            out = self._run("list-panes", "-a", "-F", FORMAT)
        except TmuxError as exc:
            if _no_server(exc):
                if (wrong := self._not_a_socket()) is not None:
                    raise wrong from None
                return {}
            raise
        panes = {}
        for line in out.splitlines():
            name, dead, status, signal, pid, activity = (line.split("\t") + [""] * 6)[:6]
            if not self.owns(name):
                continue  # another project's, on a shared server
            panes[name] = Pane(session=name, dead=dead == "1",
                               exit_status=int(status) if status else None,
                               exit_signal=int(signal) if signal else None,
                               pid=int(pid) if pid else None,
                               activity=int(activity) if activity else None)
        return panes

    def capture(self, sessions: list[str], lines: int = 50) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(sessions), 100):  # keep one call's command line small
            out.update(self._capture_batch(sessions[start:start + 100], lines))
        return out

    def _capture_batch(self, batch: list[str], lines: int) -> dict[str, str]:
        args: list[str] = []
        history = ["-S", f"-{lines}"] if lines > 0 else []
        for name in batch:
            args += ["display-message", "-p", MARK, ";",
                     "capture-pane", "-p", "-J", *history, "-t", f"={name}:", ";"]
        try:
            text = self._run(*args[:-1])
        except TmuxError:
            if len(batch) == 1:
                return {}  # that session ended since the snapshot
            # one session ended since the snapshot and failed the whole call: split and retry
            half = len(batch) // 2
            return {**self._capture_batch(batch[:half], lines),
                    **self._capture_batch(batch[half:], lines)}
        return dict(zip(batch, text.split(MARK + "\n")[1:]))

    def send(self, session: str, text: str) -> None:
        buffer = f"taskorch-{session}"
        self._run("load-buffer", "-b", buffer, "-", stdin=text)
        self._run("paste-buffer", "-p", "-d", "-b", buffer, "-t", f"={session}:")

    def press(self, session: str, keys: tuple[str, ...]) -> None:
        if keys:
            self._run("send-keys", "-t", f"={session}:", *keys)

    def reap(self) -> None:
        try:
            pid = int(self._run("display-message", "-p", "#{pid}").strip())
        except (TmuxError, ValueError):
            return
        os.kill(pid, signal.SIGCHLD)

    def _task(self, session: str) -> str | None:
        return session[len(self.prefix):] if self.key and self.owns(session) else None

    def _records(self, tasks: list[str]) -> list[dict]:
        """The wrappers' attempt-N.pid records of these tasks, every attempt."""
        if self.runs is None:
            return []
        return [r for task in tasks for path in sorted(self.runs(task).glob("attempt-*.pid"))
                if (r := procs.read(path)) is not None]

    def reads_terminal(self, pane: Pane) -> bool:
        return pane.pid is not None and not pane.dead and procs.reading_terminal(pane.pid)

    def alive(self, session: str) -> bool:
        task = self._task(session)
        return task is not None and procs.alive(self._records([task]))

    def _end(self, records: list[dict], marker: str | None, what: str) -> None:
        """Every process of the attempts (their groups, and what carries the marker) ends, or
        RunnerError names what survived SIGKILL."""
        survivors = procs.end(records, marker)
        if survivors:
            raise RunnerError(f"{what}: {procs.describe(survivors)} still running after SIGKILL")

    def stop(self, session: str) -> None:
        """kill-session hangs the pane up; then the attempt's process groups get SIGTERM, and
        SIGKILL after a grace period, with anything that left them but carries the marker."""
        failed: TmuxError | None = None
        try:
            self._run("kill-session", "-t", f"={session}")
        except TmuxError as exc:
            gone = ("can't find session", "no current target")  # the latter: no sessions left
            if not any(text in str(exc) for text in gone) and not _no_server(exc):
                failed = exc  # end its processes all the same, then say so
        task = self._task(session)
        if task is not None:
            self._end(self._records([task]), f"{self.key}/{task}/", session)
        if failed is not None:
            raise failed

    def kill_server(self) -> bool:
        try:
            names = self._run("list-sessions", "-F", "#{session_name}").split()
        except TmuxError as exc:
            if not _no_server(exc):
                raise
            names = []
        ours = [name for name in names if self.owns(name)]
        whole = len(ours) == len(names)  # nobody else's sessions on it
        if whole:
            try:
                self._run("kill-server")
            except TmuxError:
                pass
            if self._not_a_socket() is None:
                self.socket_file.unlink(missing_ok=True)  # tmux 3.3a leaves it behind
        elif ours:
            args: list[str] = []
            for name in ours:
                args += ["kill-session", "-t", f"={name}", ";"]
            self._run(*args[:-1])
        if self.key and self.runs is not None:
            root = self.runs("x").parent
            tasks = [d.name for d in root.iterdir() if d.is_dir()] if root.is_dir() else []
            self._end(self._records(tasks), f"{self.key}/", "the project's agents")
        return whole
