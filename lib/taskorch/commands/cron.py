"""`doit cron`: print the crontab line that runs the heartbeat; `--install` / `--uninstall` it.

doit reads its config from the current directory, so the line changes to the control directory
first. It carries the PATH of the shell that installed it, so cron finds tmux, git and agents.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch.commands.usage import Verb
from taskorch.project import Project

CRONTAB_TIMEOUT = 30  # seconds
DEFAULT_EVERY = 5  # minutes; bench/detect_latency.py measures the cron path at this interval


def marker(project: Project) -> str:
    return f"# taskorch heartbeat: {project.manifest.root}"


def _cron_quote(text: str) -> str:
    # In a crontab, an unescaped % ends the command and starts its standard input.
    return shlex.quote(text).replace("%", "\\%")


def line(project: Project, every: int) -> str:
    layout, manifest = project.layout, project.manifest
    path = os.pathsep.join(dict.fromkeys(
        [os.path.dirname(sys.executable), *os.environ.get("PATH", "").split(os.pathsep)]))
    command = (f"cd {_cron_quote(str(manifest.root))} && PATH={_cron_quote(path)} "
               f"TASKORCH_MANIFEST={_cron_quote(str(manifest.path))} "
               f"{_cron_quote(sys.executable)} -m doit heartbeat "
               f">> {_cron_quote(str(layout.heartbeat_log))} 2>&1")
    return f"*/{every} * * * * {command} {marker(project)}".replace("\n", " ")


def _crontab(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["crontab", *args], input=stdin, capture_output=True, text=True,
                              timeout=CRONTAB_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"crontab {' '.join(args)} did not answer in {CRONTAB_TIMEOUT} s")


def change(project: Project, every: int, install: bool) -> str:
    """Install (or remove) this control directory's line; other lines are left as they were."""
    current = _crontab("-l")
    lines = current.stdout.splitlines() if current.returncode == 0 else []
    kept = [entry for entry in lines if not entry.endswith(marker(project))]
    wanted = kept + ([line(project, every)] if install else [])
    if wanted == lines:
        return "crontab already has that line" if install else "crontab has no taskorch line here"
    written = _crontab("-", stdin="\n".join(wanted) + "\n" if wanted else "")
    if written.returncode != 0:
        raise RuntimeError(written.stderr.strip() or "crontab refused the new table")
    return ("installed: the heartbeat runs every {} min".format(every) if install
            else "removed the taskorch heartbeat line")


VERB = Verb(
    "cron", "Print the crontab line for the heartbeat (--install, --uninstall, --every N).",
    params=({"name": "install", "long": "install", "type": bool, "default": False,
             "help": "add the line to your crontab (again: no change)"},
            {"name": "uninstall", "long": "uninstall", "type": bool, "default": False,
             "help": "remove this control directory's line from your crontab"},
            {"name": "every", "long": "every", "type": int, "default": DEFAULT_EVERY,
             "metavar": "N", "help": f"minutes between heartbeats (default {DEFAULT_EVERY})"}),
    details="Cron is the backstop: agents' exits start a heartbeat at once, and cron catches "
            "what that misses. --install and --uninstall need the crontab program (Debian: "
            "apt-get install cron).",
    examples=("doit cron --install", "doit cron --install --every 2", "doit cron --uninstall"))


def creator(project: Project) -> Callable[[], dict]:
    def cron(install: bool, uninstall: bool, every: int) -> TaskFailed | None:
        if every < 1 or every > 59:
            return TaskFailed("cron: --every takes minutes from 1 to 59")
        if not (install or uninstall):
            print(line(project, every))
            return None
        if shutil.which("crontab") is None:
            return TaskFailed("cron: crontab not found; install cron (e.g. apt-get install cron)")
        try:
            print(f"cron: {change(project, every, install=install)}")
        except RuntimeError as exc:
            return TaskFailed(f"cron: {exc}")
        return None

    def task_cron() -> dict:
        return VERB.task(actions=[cron])

    task_cron.__doc__ = VERB.summary
    return task_cron
