"""`doit add`: create a task in the manifest from options (issue 13: the skill's "create a task").

Like `doit import`, it keeps the file's comments and layout (ruamel's round trip), checks that the
result is a valid manifest, prints a diff, and writes only with --write.
"""

from __future__ import annotations

from typing import Any, Callable

from doit.exceptions import TaskFailed

from taskorch import git, importer, lock, schema
from taskorch.commands.usage import Verb
from taskorch.layout import write_atomic
from taskorch.manifest import ManifestError
from taskorch.project import Project
from taskorch.terminal import echo

VERB = Verb(
    "add", "Add a task to the manifest: shows a diff; --write applies it.",
    params=({"name": "id", "long": "id", "default": "", "metavar": "ID",
             "help": "the task's id (default: from the title, made unique)"},
            {"name": "title", "long": "title", "default": "", "metavar": "TEXT",
             "help": "what the task is, in a line (required)"},
            {"name": "body", "long": "body", "default": "", "metavar": "TEXT",
             "help": "what to do, in the words the agent gets"},
            {"name": "files", "long": "files", "default": "", "metavar": "A,B",
             "help": "the files it touches, comma-separated"},
            {"name": "depends_on", "long": "depends-on", "default": "", "metavar": "ID,ID",
             "help": "the tasks it waits for, comma-separated"},
            {"name": "phase", "long": "phase", "default": "", "metavar": "NAME",
             "help": "the phase, by name or number from 1 (default: the last; a new name adds "
                     "a phase at the end)"},
            {"name": "priority", "long": "priority", "default": "", "metavar": "LEVEL",
             "help": "low, medium (the default) or high"},
            {"name": "agent", "long": "agent", "default": "", "metavar": "NAME",
             "help": "its agent profile, or human (default: the manifest's)"},
            {"name": "write", "long": "write", "type": bool, "default": False,
             "help": "apply the diff to the manifest"}),
    details="Comments and layout are kept. The result is checked as a whole manifest first: "
            "an unknown dependency, agent or priority is refused with the manifest's own error.",
    examples=('doit add --title "Fix the login redirect" --files src/auth.py',
              'doit add --title "Docs" --phase 2 --depends-on t3 --priority high --write'))


def words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def task_of(options: dict[str, str], taken: set[str]) -> dict[str, Any]:
    """The new task's mapping, keys in the order the shipped example writes them."""
    task: dict[str, Any] = {"id": options["id"] or importer.unique_id(
        git.slug(options["title"], 30), taken), "title": importer.as_text(options["title"])}
    if options["body"]:
        task["body"] = importer.as_text(options["body"])
    task["files"] = [importer.as_text(f) for f in words(options["files"])]
    if options["depends_on"]:
        task["dependsOn"] = words(options["depends_on"])
    for key in ("agent", "priority"):
        if options[key]:
            task[key] = options[key]
    return task


def phase_of(phases: Any, wanted: str) -> Any:
    """The task list of the phase named or numbered `wanted` (the last one if empty); a name no
    phase has adds a phase at the end."""
    if not wanted:
        return phases[-1].setdefault("tasks", [])
    if wanted.isdigit() and 1 <= int(wanted) <= len(phases):
        return phases[int(wanted) - 1].setdefault("tasks", [])
    for phase in phases:
        if phase.get("name") == wanted:
            return phase.setdefault("tasks", [])
    phases.append({"name": importer.as_text(wanted), "tasks": []})
    return phases[-1]["tasks"]


def add(project: Project, options: dict[str, str], write: bool) -> TaskFailed | None:
    if not options["title"].strip():
        return TaskFailed("add: --title is required: what the task is, in a line")
    if options["priority"] and options["priority"] not in schema.PRIORITIES:
        return TaskFailed(f"add: --priority must be one of {', '.join(schema.PRIORITIES)}, not "
                          f"{options['priority']!r}")
    path = project.manifest.path
    added: list[str] = []

    def change(doc: Any) -> None:
        phases = doc["phases"]
        taken = {t["id"] for p in phases for t in p.get("tasks", [])}
        if options["id"] in taken:
            raise importer.IssuesError(f"add: a task '{options['id']}' is already in "
                                       f"{path.name}; pick another --id")
        task = task_of(options, taken)
        phase_of(phases, options["phase"]).append(task)
        added.append(task["id"])

    try:
        with lock.hold(project.layout.lock):
            result = importer.edit(path, change, "added")
            importer.check(result, path)
            if write:
                write_atomic(path, result.text)
    except importer.IssuesError as exc:
        return TaskFailed(str(exc))
    except ManifestError as exc:
        return TaskFailed(f"add: the result would not be a valid manifest:\n{exc}")
    echo(result.diff)
    echo(f"add: wrote {path.name} ({added[0]})" if write else
         f"add: nothing written; add --write to apply this diff ({added[0]})")
    return None


def creator(project: Project) -> Callable[[], dict]:
    def run(id: str, title: str, body: str, files: str, depends_on: str, phase: str,
            priority: str, agent: str, write: bool) -> TaskFailed | None:
        return add(project, {"id": id, "title": title, "body": body, "files": files,
                             "depends_on": depends_on, "phase": phase, "priority": priority,
                             "agent": agent}, write)

    def task_add() -> dict:
        return VERB.task(actions=[run])

    task_add.__doc__ = VERB.summary
    return task_add
