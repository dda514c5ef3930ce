"""`doit plan`: the phases, the waves, and why each waiting task waits (text, json, dot, mermaid)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from doit.exceptions import TaskFailed

from taskorch import repo
from taskorch.commands.usage import Verb
from taskorch.plan import Plan
from taskorch.terminal import echo, out
from taskorch.project import Project

FORMATS = ("text", "json", "dot", "mermaid")


def as_text(plan: Plan) -> str:
    m = plan.manifest
    waves = plan.waves()
    lines = [f"{m.project}: {len(m.tasks)} tasks in {len(m.phases)} phases, "
             f"max_parallel {m.max_parallel}, sameFile {m.same_file}", ""]
    for number, phase in enumerate(m.phases, 1):
        gate = f"  (starts when all of {m.phases[number - 2].name} is complete)" if number > 1 else ""
        lines.append(f"{phase.name}{gate}")
        for task in phase.tasks:
            files = ", ".join(task.files) or "(no files: serialized with every task)"
            lines.append(f"  {task.id:<10} {task.title}  [{files}]")
            for waited, sentence in plan.reasons(task.id):
                if not waited.startswith("phase:"):
                    lines.append(f"  {'':<10}   {sentence}")
        lines.append("")
    lines.append("Waves (what starts together if everything before it succeeds):")
    lines += [f"  {n:>3}: {' '.join(wave)}" for n, wave in enumerate(waves, 1)]
    return "\n".join(lines)


def as_dict(plan: Plan) -> dict[str, Any]:
    m = plan.manifest
    return {
        "project": m.project,
        "phases": [{"id": plan.gate_id(p), "name": phase.name, "tasks": [t.id for t in phase.tasks]}
                   for p, phase in enumerate(m.phases)],
        "tasks": [{"id": t.id, "phase": m.phases[t.phase].name, "title": t.title,
                   "files": list(t.files),
                   "waitsFor": [{"id": w.id, "reason": w.reason, "files": list(w.files)}
                                for w in plan.waits[t.id]]}
                  for t in m.tasks],
        "waves": plan.waves(),
    }


def as_json(plan: Plan) -> str:
    return json.dumps(as_dict(plan), indent=2)


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def as_dot(plan: Plan) -> str:
    lines = ["digraph plan {", "  rankdir=LR;", "  node [shape=box];"]
    for p, phase in enumerate(plan.manifest.phases):
        lines.append(f'  subgraph "cluster_{p + 1}" {{ label="{_label(phase.name)}";')
        lines += [f'    "{t.id}" [label="{t.id}\\n{_label(t.title)}"];' for t in phase.tasks]
        lines.append("  }")
        if p < len(plan.manifest.phases) - 1:
            lines.append(f'  "{plan.gate_id(p)}" [shape=diamond, label="{_label(phase.name)} done"];')
    for waiter, waited, wait in plan.edges():
        style = {"dependsOn": "solid", "same-file": "dashed", "phase": "dotted"}[wait.reason]
        label = f', label="{_label(", ".join(wait.files))}"' if wait.files else ""
        lines.append(f'  "{waited}" -> "{waiter}" [style={style}{label}];')
    lines.append("}")
    return "\n".join(lines)


def _mermaid_id(node: str) -> str:
    return node.replace(":", "_")


def as_mermaid(plan: Plan) -> str:
    lines = ["flowchart LR"]
    for p, phase in enumerate(plan.manifest.phases):
        lines.append(f'  subgraph P{p + 1}["{_label(phase.name).replace(chr(34), "#quot;")}"]')
        lines += [f'    {t.id}["{t.id}: {_label(t.title).replace(chr(34), "#quot;")}"]'
                  for t in phase.tasks]
        lines.append("  end")
        if p < len(plan.manifest.phases) - 1:
            lines.append(f'  {_mermaid_id(plan.gate_id(p))}{{"phase {p + 1} done"}}')
    arrows = {"dependsOn": "-->", "same-file": "-.->", "phase": "==>"}
    for waiter, waited, wait in plan.edges():
        label = f'|"{_label(", ".join(wait.files))}"|' if wait.files else ""
        lines.append(f"  {_mermaid_id(waited)} {arrows[wait.reason]}{label} {_mermaid_id(waiter)}")
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Plan], str]] = {
    "text": as_text, "json": as_json, "dot": as_dot, "mermaid": as_mermaid}


VERB = Verb(
    "plan", "Show phases, waves and why each task waits (--format text|json|dot|mermaid).",
    params=({"name": "format", "long": "format", "short": "f", "default": "text",
             "choices": [(f, "") for f in FORMATS], "metavar": "FORMAT",
             "help": "output format: text (default), json, dot or mermaid"},),
    details="A wave is what starts together if everything before it succeeds, within "
            "max_parallel. Each waiting task says what it waits for: a dependency, a "
            "same-file predecessor or a phase gate. Nothing is started.",
    examples=("doit plan", "doit plan --format dot | dot -Tsvg > plan.svg"))


def creator(project: Project) -> Callable[[], dict]:
    def show(format: str) -> TaskFailed | None:
        wrong = repo.problem(project.manifest.repo, project.manifest.root)
        if wrong:
            path = project.manifest.path
            return TaskFailed(f"{path.name}:{key_line(path, 'repo')}: repo: {wrong}")
        text = RENDERERS[format](project.plan)
        if format == "json":
            out(text)  # JSON escapes every control character itself, and must stay valid JSON
        else:
            echo(text)
        return None

    def task_plan() -> dict:
        return VERB.task(actions=[show])

    task_plan.__doc__ = VERB.summary
    return task_plan


def key_line(path: Path, key: str) -> int:
    """The line a top-level key is on, for a message about its value (1 if not found)."""
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*:""")
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if pattern.match(line):
            return number
    return 1
