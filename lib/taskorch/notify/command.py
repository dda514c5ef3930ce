"""`{command: [program, args...]}`: each event as one JSON line on the program's standard input.

Run without a shell, in the control directory, in a session of its own so a timeout kills its
children too. `{event}`, `{project}`, `{task}`, `{state}`, `{reason}`, `{time}` and `{text}` in an
argument become that field (for programs such as notify-send that take their text as arguments).
`optional: true`: skipped, not failed, where the program is not installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from taskorch.notify.base import timeout_of

PLACEHOLDER = re.compile(r"\{(event|project|task|state|reason|time|text)\}")


class Command:
    keys = ("command", "optional")

    @staticmethod
    def problem(spec: dict[str, Any]) -> str | None:
        argv = spec["command"]
        if not (isinstance(argv, list) and argv and all(isinstance(a, str) and "\0" not in a
                                                        for a in argv) and argv[0].strip()):
            return ("command must be a list of strings naming a program: [program, args...] "
                    "(run without a shell)")
        if not isinstance(spec.get("optional", False), bool):
            return "optional must be true or false"
        return None

    @staticmethod
    def label(spec: dict[str, Any]) -> str:
        text = shlex.join(spec["command"])
        return f"command {text if len(text) <= 60 else text[:59] + '…'}"

    @staticmethod
    def installed(spec: dict[str, Any], cwd: Path) -> bool:
        program = spec["command"][0]
        if os.sep in program:
            return (cwd / program).exists()
        return shutil.which(program) is not None

    @staticmethod
    def send(spec: dict[str, Any], event: dict[str, Any], line: str, cwd: str | None) -> str | None:
        timeout = timeout_of(spec)
        fields = {k: str(v) for k, v in event.items()}
        argv = [PLACEHOLDER.sub(lambda m: fields.get(m.group(1), ""), a) for a in spec["command"]]
        try:
            proc = subprocess.Popen(argv, cwd=cwd or None, stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as exc:
            return f"cannot run it: {exc.strerror or exc}"
        try:
            _, err = proc.communicate(line.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its children too
            except OSError:
                pass
            proc.communicate()
            return f"no exit in {timeout:g} s"
        if proc.returncode != 0:
            last = (err or b"").decode("utf-8", "replace").strip().splitlines()
            return f"exit {proc.returncode}" + (f": {last[-1][:200]}" if last else "")
        return None
