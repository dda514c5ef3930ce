"""Compile the manifest beside a dodo.py into doit's namespace: DOIT_CONFIG and task creators."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from taskorch.commands import (add, cleanup, cron, dashboard, doctor, heartbeat, import_, launch,
                               logs, operator, plan, schema, serve, status, usage)
from taskorch.commands.usage import Verb
from taskorch.manifest import ManifestError
from taskorch.project import Project
from taskorch.reporter import Reporter

MANIFEST_NAMES = ("orchestrator.yaml", "orchestrator.yml", "orchestrator.json")


def find_manifest(control_dir: Path) -> Path:
    """TASKORCH_MANIFEST if set, else the first orchestrator.{yaml,yml,json} beside dodo.py."""
    if os.environ.get("TASKORCH_MANIFEST"):
        return Path(os.environ["TASKORCH_MANIFEST"])
    for name in MANIFEST_NAMES:
        if (control_dir / name).exists():
            return control_dir / name
    return control_dir / MANIFEST_NAMES[0]


VERBS: tuple[Verb, ...] = (plan.VERB, launch.VERB, status.VERB, heartbeat.VERB, cron.VERB,
                          cleanup.VERB, import_.VERB, add.VERB, doctor.VERB, *operator.VERBS,
                          logs.VERB, schema.VERB, dashboard.VERB, serve.VERB)


def answer_help(argv: list[str]) -> None:
    """`doit VERB --help` or `-h`: print the verb's usage and exit 0, whatever the manifest."""
    verb = usage.asked(argv, VERBS)
    if verb is not None:
        print(usage.render(verb))
        raise SystemExit(0)


# Verbs that never run `launch:<id>` nor read the gate tasks: for them doit need not load one
# task dict per manifest task (at 20,000 tasks that alone took 3.7 s).
NO_SUBTASKS = frozenset({"plan", "status", "heartbeat", "cron", "cleanup", "import", "add",
                         "doctor", "logs", "schema", "dashboard", "serve",
                         *(verb.name for verb in operator.VERBS)})


def needs_subtasks(argv: list[str]) -> bool:
    """Whether this command line may use the launch subtasks or the gate tasks. Only a plain run
    of verbs in NO_SUBTASKS (or none: the default, status) goes without; `list`, `info`, any
    other doit command, `launch`, or anything this cannot read gets them all."""
    words = [arg for arg in argv if not arg.startswith("-")]
    if words[:1] == ["run"]:
        words = words[1:]
    if argv[:1] and argv[0].startswith("-"):
        return True  # doit's own options first (-f FILE, -v 2...): their values look like words
    return bool(words) and (words[0] not in NO_SUBTASKS
                            or any(w.startswith(("launch", "_")) for w in words))


def namespace(dodo_file: str) -> dict[str, Any]:
    """What dodo.py puts in its globals. Bad manifests exit here, before doit does anything."""
    answer_help(sys.argv[1:])
    schema.answer(sys.argv[1:])  # needs no manifest, as help does not
    subtasks = needs_subtasks(sys.argv[1:])
    try:
        project = Project.load(find_manifest(Path(dodo_file).resolve().parent), store=True)
    except ManifestError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2)
    project.layout.root.mkdir(parents=True, exist_ok=True)
    return {
        "DOIT_CONFIG": {
            # taskorch keeps nothing in doit's dependency file (its tasks' up-to-date checks
            # read state.db), so it stays in memory: its write at the end of every run made
            # even `doit status` fail with a traceback on a full disk, and overlapping runs
            # raced on it.
            "dep_file": ":memory:",
            "backend": "sqlite3",
            "verbosity": 2,
            "reporter": Reporter,
            "default_tasks": ["status"],
            "continue": True,
        },
        "task_plan": plan.creator(project),
        "task_launch": launch.creator(project, subtasks),
        "task_status": status.creator(project),
        "task_heartbeat": heartbeat.creator(project),
        "task_cron": cron.creator(project),
        "task_cleanup": cleanup.creator(project),
        "task_import": import_.creator(project),
        "task_add": add.creator(project),
        "task_doctor": doctor.creator(project),
        **operator.creators(project),
        "task_logs": logs.creator(project),
        "task_schema": schema.creator(),
        "task_dashboard": dashboard.creator(project),
        "task_serve": serve.creator(project),
        **(launch.gate_creators(project) if subtasks else {}),
    }
