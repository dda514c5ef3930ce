"""The small program tmux starts for every agent: `python -m taskorch.wrapper SPEC.json`.

tmux never sees the agent's argv or the prompt. The wrapper reads both from files, fills in
`{prompt}`, runs the agent as a child (argv form, no shell), and records how it ended in an exit
file, which outlives a dead tmux server.

Before the agent starts, the wrapper records its own process (pid, group, session, start time) in
`attempt-N.pid` beside the exit file, and puts `TASKORCH_RUN=<work dir key>/<task>/<attempt>`
into the agent's environment (runners/procs.py): so a session the runner cannot see is not taken
for an ended agent, and stop finds every process of the attempt, daemons that left the group too.

With `events` in the spec (the profile's output format, taskorch.signals), the agent's stdout is
piped: every raw line goes to the events file, the pane shows the parser's readable transcript
instead, and at exit the parser's `Signals` are written beside the exit file, before it, so a
heartbeat that sees the exit sees the signals too. Standard error stays on the pane.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from taskorch import signals
from taskorch.layout import write_atomic
from taskorch.runners import procs
from taskorch.terminal import shown

# After the agent exits, how long its output may still drain. What it wrote is in the pipe
# already and is read in milliseconds; a child it left behind can hold the pipe open for good
# (aider 0.86.2 does), and every second waited here delays the exit the heartbeat acts on.
DRAIN_SECONDS = 0.5


def run(spec: dict) -> int:
    prompt_file = Path(spec["prompt_file"])
    argv = list(spec["argv"])
    if any("{prompt}" in element for element in argv):
        prompt = prompt_file.read_text(encoding="utf-8")
        argv = [element.replace("{prompt}", prompt) for element in argv]
    env = {**os.environ, **spec.get("env", {})}
    env.pop(procs.MARKER, None)
    if spec.get("run"):
        env[procs.MARKER] = spec["run"]
    if spec.get("exit_file"):  # before the agent starts: nothing of it runs unrecorded
        try:
            procs.record(procs.pid_file(Path(spec["exit_file"])), spec.get("run") or "")
        except OSError as exc:
            print(f"taskorch: cannot record the agent's process: {exc}", file=sys.stderr)
    stdin = open(prompt_file, "rb") if spec.get("stdin") else None
    try:
        if spec.get("events"):
            code = call_reading(argv, spec, env, stdin)
        else:
            code = subprocess.call(argv, cwd=spec["cwd"], env=env, stdin=stdin)
    except FileNotFoundError:
        print(f"taskorch: agent program {argv[0]!r} not found; install it or fix the agent "
              "profile's command", file=sys.stderr)
        code = 127
    except OSError as exc:
        hint = " (the prompt is too long for argv; use {prompt_file} or stdin)" \
            if exc.errno == 7 else ""
        print(f"taskorch: cannot start {argv[0]!r}: {exc.strerror}{hint}", file=sys.stderr)
        code = 126
    except ValueError as exc:  # a NUL byte cannot be passed in argv
        print(f"taskorch: cannot start {argv[0]!r}: {exc} (use {{prompt_file}} or stdin)",
              file=sys.stderr)
        code = 126
    finally:
        if stdin:
            stdin.close()
    return code


def call_reading(argv: list[str], spec: dict, env: dict[str, str], stdin: IO[bytes] | None) -> int:
    """Run the agent with its stdout read by the spec's parser; write its signals at the end."""
    parser, lock = signals.parser(spec["events"]), threading.Lock()
    proc = subprocess.Popen(argv, cwd=spec["cwd"], env=env, stdin=stdin, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    relay = threading.Thread(target=read_output, daemon=True,
                             args=(proc.stdout, parser, lock, Path(spec["events_file"])))
    relay.start()
    code = proc.wait()
    relay.join(DRAIN_SECONDS)
    with lock:
        signals.save(Path(spec["signals_file"]), parser.result())
    return code


def read_output(stream: IO[bytes], parser: signals.Parser, lock: threading.Lock,
                events_file: Path) -> None:
    """Keep every raw line, show the transcript. Never stops before the stream ends: an agent
    whose pipe is no longer read blocks once the pipe is full."""
    raw = keeper(events_file)
    for data in iter(stream.readline, b""):
        if raw is not None:
            try:
                raw.write(data)
                raw.flush()
            except OSError as exc:  # a full disk: the pane and the signals still go on
                show(f"taskorch: stopped keeping the agent's output: {exc}")
                raw = None
        line = data.decode("utf-8", errors="replace").rstrip("\r\n")
        with lock:
            try:
                text = parser.feed(line)
            except Exception as exc:  # a parser's bug must not blind the pane
                text = f"{line}\ntaskorch: {type(exc).__name__} reading that line: {exc}"
        show(text)
    if raw is not None:
        raw.close()


def keeper(events_file: Path) -> IO[bytes] | None:
    try:
        events_file.parent.mkdir(parents=True, exist_ok=True)
        return open(events_file, "ab")
    except OSError as exc:
        show(f"taskorch: cannot keep the agent's output in {events_file}: {exc}")
        return None


def show(text: str | None) -> None:
    """A transcript line on the pane, escape-free; a pane that is gone is not an error."""
    if text is None:
        return
    try:
        print(shown(text), flush=True)
    except (OSError, ValueError):
        pass


def record(exit_file: Path, code: int, why: str | None = None) -> None:
    """`why`: how a remote job ended when the agent's own status never came back (its node
    died); `code` is then a failure that stands in for it."""
    result = {"code": code if code >= 0 else 128 - code,
              "signal": -code if code < 0 else None,
              "finished": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              **({"why": why} if why else {})}
    write_atomic(exit_file, json.dumps(result) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m taskorch.wrapper SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    code = run(spec)
    record(Path(spec["exit_file"]), code)
    if spec.get("on_exit"):
        # tmux misses about 8% of exits (DESIGN.md), so its pane-died hook is not enough on its
        # own: start the heartbeat from here too. The lock folds the two into one tick.
        subprocess.Popen([spec["on_exit"]], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
