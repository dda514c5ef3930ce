"""The small program tmux starts for every agent: `python -m taskorch.wrapper SPEC.json`.

tmux never sees the agent's argv or the prompt. The wrapper reads both from files, fills in
`{prompt}`, runs the agent as a child (argv form, no shell), and records how it ended in an exit
file, which outlives a dead tmux server.

Before the agent starts, the wrapper records its own process (pid, group, session, start time) in
`attempt-N.pid` beside the exit file, and puts `TASKORCH_RUN=<work dir key>/<task>/<attempt>`
into the agent's environment (runners/procs.py): so a session the runner cannot see is not taken
for an ended agent, and stop finds every process of the attempt, daemons that left the group too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from taskorch.layout import write_atomic
from taskorch.runners import procs


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


def record(exit_file: Path, code: int) -> None:
    result = {"code": code if code >= 0 else 128 - code,
              "signal": -code if code < 0 else None,
              "finished": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
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
