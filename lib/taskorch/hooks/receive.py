"""The program an agent's hooks run: `python -m taskorch.hooks.receive NAME RECORD BEAT
[--then ARGV_JSON] [PAYLOAD]`.

It reads the event (the PAYLOAD argument, as codex passes it, else standard input, as Claude
does), appends what it says to the attempt's record, and for a turn's end or a question starts
the heartbeat script BEAT (`-`: none), so a dependent starts within a second or two instead of
at the next cron tick. It always exits 0 and prints nothing: an agent may read a hook's exit
status and output as orders (Claude's exit 2 from a Stop hook keeps the turn going).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from taskorch.hooks import HOOKS, base
from taskorch.runners import procs
from taskorch.signals.base import save

MAX_PAYLOAD = 1024 * 1024
WAKES = (base.FINISHED, base.FAILED, base.ASKING)


def receive(argv: list[str], stdin: Callable[[], bytes]) -> None:
    name, record, beat, rest = argv[0], Path(argv[1]), argv[2], argv[3:]
    then = None
    if rest[:1] == ["--then"] and len(rest) >= 2:
        then, rest = json.loads(rest[1]), rest[2:]
    raw = rest[-1] if rest else stdin()[:MAX_PAYLOAD].decode("utf-8", errors="replace")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    heard = HOOKS[name].heard(payload, base.attempt_files(record)) \
        if isinstance(payload, dict) else None
    if heard is not None:
        base.append(record, heard)
        report = HOOKS[name].report(payload, heard)
        if report is not None:  # before the heartbeat it wakes reads it
            attempt = base.attempt_files(record)
            save(attempt.with_name(attempt.name + ".signals.json"), report)
        if beat != "-" and heard.fact in WAKES:
            # Without the attempt's marker: the heartbeat stops this very attempt, and what it
            # starts (git, a verify job, tmux) must not be taken for the agent's processes.
            detach([beat], {k: v for k, v in os.environ.items() if k != procs.MARKER})
    if then:  # the user's own notify program: part of the attempt, marker and all
        detach([*then, raw], dict(os.environ))


def detach(argv: list[str], env: dict[str, str]) -> None:
    subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def main() -> int:
    try:
        receive(sys.argv[1:], _stdin)
    except Exception as exc:  # never the agent's problem; say it where the pane's log keeps it
        print(f"taskorch hook: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0


def _stdin() -> bytes:
    if sys.stdin is None or sys.stdin.isatty():
        return b""
    return sys.stdin.buffer.read(MAX_PAYLOAD)


if __name__ == "__main__":
    sys.exit(main())
