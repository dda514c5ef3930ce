"""Issues in: turn open issues into new manifest tasks, leaving the user's own tasks untouched.

Files come from paths the issue body names that exist in the repository (backticked paths and
`path:line` forms included); the phase from labels; dependsOn from "depends on #N" and
"blocked by #N". The manifest is edited round-trip (comments and layout kept) and the change is
shown as a diff before anything is written.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml as pyyaml

from taskorch import git, manifest as manifests
from taskorch.errors import TaskorchError

LABEL_PHASES = {"critical": "Phase 1: Critical", "high": "Phase 2: High",
                "medium": "Phase 3: Medium", "low": "Phase 4: Low"}
DEFAULT_PHASE = "Phase 3: Medium"
PATH_TOKEN = re.compile(r"`([^`\s]+)`|(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]+)(?::\d+)?")
DEPENDS = re.compile(r"\b(?:depends on|blocked by)\s+#(\d{1,9})\b", re.IGNORECASE)
_RESOLVER = pyyaml.resolver.Resolver()
_FOLDED = ("\x85", "\u2028", "\u2029")


class IssuesError(TaskorchError):
    """The issues could not be read; the message says why."""


@dataclass
class Result:
    text: str                      # the new manifest text
    diff: str
    added: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    without_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_issues(source: Path | None, cwd: Path) -> list[dict[str, Any]]:
    """Open issues from a JSON file (`--from`) or from `gh issue list`."""
    if source is not None:
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise IssuesError(f"import: cannot read {source}: {exc}") from None
    else:
        try:
            out = subprocess.run(["gh", "issue", "list", "--state", "open", "--json",
                                  "number,title,body,labels", "--limit", "1000"], cwd=cwd,
                                 capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                 timeout=git.network_timeout())
        except FileNotFoundError:
            raise IssuesError("import: gh is not installed; install it or use --from FILE") from None
        except subprocess.TimeoutExpired:
            raise IssuesError("import: gh issue list gave no answer in "
                              f"{git.network_timeout():g} s; try again, or use --from FILE") from None
        if out.returncode != 0:
            raise IssuesError(f"import: gh issue list failed: {out.stderr.strip()}")
        data = json.loads(out.stdout)
    if not isinstance(data, list) or not all(isinstance(i, dict) and isinstance(i.get("number"), int)
                                             for i in data):
        raise IssuesError("import: expected a JSON list of issues with number, title, body, labels")
    return data


def files_named(body: str, tracked: set[str]) -> list[str]:
    """Paths in the text that exist in the repository, in order of first mention."""
    directories = {str(Path(f).parent) for f in tracked}
    found: list[str] = []
    for match in PATH_TOKEN.finditer(body or ""):
        token = (match.group(1) or match.group(2)).split(":")[0].removeprefix("./").rstrip("/")
        if (token in tracked or token in directories) and token not in found:
            found.append(token)
    return found


def phase_for(labels: list[Any], mapping: dict[str, str]) -> str:
    names = [str((label.get("name") if isinstance(label, dict) else label) or "").lower()
             for label in labels or []]
    for name in names:
        if name in mapping:
            return mapping[name]
    return DEFAULT_PHASE


def edit(manifest_path: Path, change: Callable[[Any], None], label: str) -> Result:
    """The manifest's text after `change` edited its parsed document (ruamel's round trip:
    comments and layout kept), with a unified diff against the file as it is."""
    from ruamel.yaml import YAML  # here: ~25 ms that every other verb's start would pay
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # "  - id:", the layout of the shipped example
    original = manifest_path.read_text(encoding="utf-8")
    doc = yaml.load(original)
    change(doc)
    out = io.StringIO()
    yaml.dump(doc, out)
    diff = "".join(difflib.unified_diff(original.splitlines(True), out.getvalue().splitlines(True),
                                        manifest_path.name, f"{manifest_path.name} ({label})"))
    return Result(text=out.getvalue(), diff=diff)


def plan_import(manifest_path: Path, issues: list[dict[str, Any]], tracked: set[str],
                mapping: dict[str, str] | None = None) -> Result:
    """Add a task per new issue to the manifest text; the user's tasks are left as they are."""
    found = Result(text="", diff="")

    def change(doc: Any) -> None:
        add_issues(doc["phases"], issues, tracked, {**LABEL_PHASES, **(mapping or {})}, found)

    edited = edit(manifest_path, change, "imported")
    if not found.added:  # nothing to add: the user's text as it is, not even re-indented
        return Result(text=manifest_path.read_text(encoding="utf-8"), diff="",
                      skipped=found.skipped)
    return Result(text=edited.text, diff=edited.diff, added=found.added, skipped=found.skipped,
                  without_files=found.without_files, notes=found.notes)


def add_issues(phases: Any, issues: list[dict[str, Any]], tracked: set[str],
               table: dict[str, str], result: Result) -> None:
    """A task per issue not in `phases` yet, in its label's phase; what was done goes into
    `result` (added, skipped, without_files, notes)."""
    existing = {t.get("issue") for p in phases for t in p.get("tasks", []) if t.get("issue")}
    ids = {t["id"] for p in phases for t in p.get("tasks", [])}
    by_issue = {t["issue"]: t["id"] for p in phases for t in p.get("tasks", []) if t.get("issue")}
    fresh = [i for i in sorted(issues, key=lambda i: i["number"]) if i["number"] not in existing]
    result.skipped = sorted(i["number"] for i in issues if i["number"] in existing)
    for issue in fresh:
        by_issue[issue["number"]] = unique_id(f"i{issue['number']}", ids)
        ids.add(by_issue[issue["number"]])
    for issue in fresh:
        task_id = by_issue[issue["number"]]
        title = str(issue.get("title") or f"Issue #{issue['number']}")
        task: dict[str, Any] = {"id": task_id, "issue": issue["number"], "title": as_text(title)}
        if issue.get("body"):
            task["body"] = as_text(str(issue["body"]))
        files = files_named(str(issue.get("body") or ""), tracked)
        task["files"] = [as_text(f) for f in files]
        deps = []
        for number in dict.fromkeys(int(n) for n in DEPENDS.findall(str(issue.get("body") or ""))):
            if number in by_issue and by_issue[number] != task_id:
                deps.append(by_issue[number])
            else:
                result.notes.append(f"{task_id}: depends on #{number}, which is neither a task "
                                    "nor an open issue; left out")
        if deps:
            task["dependsOn"] = deps
        phase_tasks(phases, phase_for(issue.get("labels", []), table)).append(task)
        result.added.append(task_id)
        if not files:
            result.without_files.append(f"{task_id} (#{issue['number']})")


def as_text(text: str) -> str:
    """Issue text as a scalar that reads back the same. ruamel writes YAML 1.2 and taskorch reads
    YAML 1.1 (PyYAML): a title like `yes` or `1:20` is a string to one and a boolean or a
    number to the other, and a line break such as U+0085 is folded. Double quotes escape both."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString  # as in plan_import
    plain_tag = _RESOLVER.resolve(pyyaml.ScalarNode, text, (True, False))
    if plain_tag != "tag:yaml.org,2002:str" or any(c in text for c in _FOLDED):
        return DoubleQuotedScalarString(text)
    return text


def unique_id(wanted: str, taken: set[str]) -> str:
    candidate, n = wanted, 2
    while candidate in taken:
        candidate, n = f"{wanted}-{n}", n + 1
    return candidate


def phase_tasks(phases: Any, name: str) -> Any:
    """The task list of the phase called `name`, added in priority order if it is missing."""
    for phase in phases:
        if phase.get("name") == name:
            return phase.setdefault("tasks", [])
    order = list(LABEL_PHASES.values())
    new = {"name": name, "tasks": []}
    rank = order.index(name) if name in order else len(order)
    at = next((i for i, p in enumerate(phases)
               if p.get("name") in order and order.index(p.get("name")) > rank), len(phases))
    phases.insert(at, new)
    return new["tasks"]


def check(result: Result, manifest_path: Path) -> None:
    """The imported manifest must itself be valid before it may be written."""
    manifests.load_text(result.text, manifest_path)
