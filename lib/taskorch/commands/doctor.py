"""`doit doctor`: can every agent profile the manifest uses start here, unattended?

The checks live in taskorch/doctor/ (one module per agent CLI); this module prints them, one
line each, and sets the exit status: 0 when nothing is a problem (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import json
from typing import Callable

from doit.exceptions import TaskFailed

from taskorch import doctor
from taskorch.commands.usage import Verb
from taskorch.project import Project
from taskorch.terminal import echo, out

VERB = Verb(
    "doctor", "Check each agent profile's program, version, credentials and first-run state.",
    params=({"name": "fix", "long": "fix", "type": bool, "default": False,
             "help": "repair what is safe and local first (trust, Claude's first-run flags)"},
            {"name": "format", "long": "format", "short": "f", "default": "text",
             "choices": [("text", ""), ("json", "")], "metavar": "FORMAT",
             "help": "output format: text (default) or json"}),
    details="For each agent profile the manifest uses, one line per check: ok, warning or "
            "problem, with the exact fix. It checks the program on PATH and its version against "
            "the verified ones (codex "
            f"{doctor.VERIFIED['codex']}, Claude Code {doctor.VERIFIED['claude']}, aider "
            f"{doctor.VERIFIED['aider']}; another minor version is a warning), that "
            "credentials are there (never printing more than a secret's last 4 characters), "
            "and the first-run state that would stop an unattended start: Claude Code's "
            "onboarding, API-key approval, trust for the project's clone, the bypass prompt and "
            "root without IS_SANDBOX=1; codex's trust for the clone. --fix merges into "
            "~/.claude.json, ~/.claude/settings.json and CODEX_HOME/config.toml (every other "
            "setting kept, the original saved once as <file>.taskorch-backup) and never "
            "creates or changes credentials; run it while no claude session is open. Exit "
            "status 1 when a problem remains.",
    examples=("doit doctor", "doit doctor --fix", "doit doctor --format json"))


def creator(project: Project) -> Callable[[], dict]:
    def run(fix: bool, format: str) -> TaskFailed | None:
        report = doctor.examine(project.manifest, project.layout.clone, fix=fix)
        if format == "json":
            out(json.dumps({"ok": report.ok, "clone": str(project.layout.clone),
                            "fixed": report.fixed,
                            "checks": [c.as_dict() for c in report.checks]}, indent=2))
        else:
            for change in report.fixed:
                echo(f"fixed    {change}")
            for check in report.checks:
                echo(check.line())
            echo(report.summary())
        if not report.ok:
            problems = sum(c.level == doctor.PROBLEM for c in report.checks)
            return TaskFailed(f"{problems} problem{'s' * (problems != 1)}: an agent may not "
                              f"start unattended")
        return None

    def task_doctor() -> dict:
        return VERB.task(actions=[run])

    task_doctor.__doc__ = VERB.summary
    return task_doctor
