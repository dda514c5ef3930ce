"""Load and validate `orchestrator.yaml` into typed objects.

The schema is the task-orchestrator skill's JSON manifest plus taskorch's own keys. Every problem
is collected before anything runs, and each is one line: `file:LINE: path.to.field: what is wrong
and how to fix it`. The YAML is the user's: nothing here writes it.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from taskorch import agents as agent_profiles
from taskorch.lifecycle import State
from taskorch.yamlsource import FieldPath, Source, display_name, parse

# The skill's eight, and `skipped`: done by a person's word (`doit skip`), so dependents start,
# with nothing verified and so nothing delivered. The lifecycle (lifecycle.py) moves between them.
STATES = tuple(state.value for state in State)
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
DEFAULT_WORKDIR = ".orchestrator"
DEFAULT_AGENT = "codex"
DEFAULT_MAX_PARALLEL = 4
# difflib compares a name with every id (about 5 us each), so a hint for each of thousands of
# unknown ids would make loading quadratic; past this many comparisons the errors still come,
# without "did you mean".
HINT_COMPARISONS = 200_000
HEARTBEAT_DEFAULTS = {"stall_minutes": 20, "max_attempts": 3, "retry_backoff_seconds": 10,
                      "verify_timeout_minutes": 30, "hook": True}
DELIVERY_DEFAULTS = {"forge": "git", "gate": "complete", "merge": "manual", "push": "done",
                     "cleanup": "manual"}
RUNTIME_FIELDS = ("status", "worktree", "tmuxSession", "startedAt", "lastProgress",
                  "completedAt", "prNumber")


class ManifestError(Exception):
    """All problems found in a manifest, one line each."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Task:
    id: str
    index: int  # position in the manifest, across phases
    phase: int  # index into Manifest.phases
    title: str
    issue: int | None = None
    body: str = ""
    files: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    agent: str | None = None
    model: str | None = None
    prompt: str | None = None
    verify: str | None = None
    runtime: dict[str, Any] = field(default_factory=dict)
    source_path: FieldPath = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Phase:
    name: str
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class Manifest:
    path: Path
    project: str
    repo: str
    workdir: Path
    phases: tuple[Phase, ...]
    base: str = "main"
    agent: str = DEFAULT_AGENT
    agents: dict[str, agent_profiles.AgentProfile] = field(default_factory=dict)
    model: str | None = None
    model_tier: str | None = None
    max_parallel: int = DEFAULT_MAX_PARALLEL
    same_file: str = "serialize"
    socket: str | None = None
    created: str | None = None
    stall_minutes: float = HEARTBEAT_DEFAULTS["stall_minutes"]
    max_attempts: int = HEARTBEAT_DEFAULTS["max_attempts"]
    retry_backoff_seconds: float = HEARTBEAT_DEFAULTS["retry_backoff_seconds"]
    verify_timeout_minutes: float = HEARTBEAT_DEFAULTS["verify_timeout_minutes"]
    hook: bool = True
    forge: str = "git"
    gate: str = "complete"    # when a dependent may start: its predecessors complete, or merged
    merge: str = "manual"     # auto: taskorch merges delivered work into base itself
    push: str = "done"        # early: also push running tasks' new commits, so none is lost
    cleanup: str = "manual"   # on-merge: the heartbeat removes merged tasks' worktrees itself
    labels: dict[str, str] = field(default_factory=dict)  # issue label -> phase, for doit import

    @property
    def root(self) -> Path:
        """The control directory: where the manifest, dodo.py and prompts/ live."""
        return self.path.parent

    @cached_property
    def tasks(self) -> list[Task]:
        return [task for phase in self.phases for task in phase.tasks]

    @cached_property
    def _by_id(self) -> dict[str, Task]:
        return {task.id: task for task in self.tasks}

    def task(self, task_id: str) -> Task:
        """The task with this id (KeyError if none); callers ask once per task, so it is a
        lookup, not a scan."""
        return self._by_id[task_id]

    def profile(self, task: Task) -> agent_profiles.AgentProfile:
        name = task.agent or self.agent
        return self.agents.get(name) or agent_profiles.BUILTIN[name]

    def model_for(self, task: Task) -> str | None:
        return task.model or self.model


# ---------------------------------------------------------------------------------------------
# Field checks: each returns None when the value is fine, else the end of an error sentence.

Check = Callable[[Any], "str | None"]


def _yaml(value: Any) -> str:
    """A value as YAML spells it: true, null, 'text'."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value)


def _as_list_hint(value: str) -> str:
    parts = [p.strip() for p in value.split(",")] if "," in value else value.split()
    return "[" + ", ".join(repr(p) for p in parts if p) + "]"


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true/false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def is_str(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    if value is None:
        return "is empty; give a value"
    return f"must be a string, not {_kind(value)}; quote it"


def is_nonempty_str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return None
    return is_str(value) or "must not be empty; give a value"


def is_name(value: Any) -> str | None:
    """A string that becomes a path, a ref or an argument: no NUL byte can pass there."""
    if isinstance(value, str) and "\0" in value:
        return "contains a NUL byte; remove it"
    return is_nonempty_str(value)


def is_opt_name(value: Any) -> str | None:
    return None if value is None else is_name(value)


def is_opt_str(value: Any) -> str | None:
    return None if value is None else is_str(value)


def is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {_kind(value)}"


def is_positive_int(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return None
    return f"must be a whole number of 1 or more, not {_yaml(value)}"


def is_opt_positive_int(value: Any) -> str | None:
    return None if value is None else is_positive_int(value)


def is_positive_number(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return None
    return f"must be a number above 0, not {_yaml(value)}"


def is_number(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return None
    return f"must be a number of 0 or more, not {_yaml(value)}"


def is_answer_list(value: Any) -> str | None:
    """[{match: regex, send: text, keys: [Enter]}]: what an agent may be answered, and how."""
    if not isinstance(value, list):
        return f"must be a list of {{match, send, keys}} mappings, not {_kind(value)}"
    for i, answer in enumerate(value):
        if not isinstance(answer, dict) or not isinstance(answer.get("match"), str):
            return f"entry {i} must be a mapping with a 'match' regular expression"
        unknown = set(answer) - {"match", "send", "keys"}
        if unknown:
            return f"entry {i} has unknown key '{sorted(unknown)[0]}'; use match, send, keys"
        try:
            re.compile(answer["match"])
        except re.error as exc:
            return f"entry {i}: {answer['match']!r} is not a valid regular expression ({exc})"
        if not isinstance(answer.get("send", ""), str):
            return f"entry {i}: 'send' must be text"
        bad = [k for k in answer.get("keys", []) if k not in agent_profiles.KEYS]
        if not isinstance(answer.get("keys", []), list) or bad:
            return (f"entry {i}: 'keys' must be a list of key names from "
                    f"{', '.join(agent_profiles.KEYS)}")
    return None


def is_str_list(value: Any) -> str | None:
    """Lists are checked entry by entry in check_fields, so each bad entry gets its own path."""
    if isinstance(value, list):
        return None
    if isinstance(value, str):
        return f"must be a list of strings; write {_as_list_hint(value)}"
    return f"must be a list of strings, not {_kind(value)}"


def is_regex_list(value: Any) -> str | None:
    problem = is_str_list(value)
    if problem or not all(isinstance(p, str) for p in value):
        return problem
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"pattern {pattern!r} is not a valid regular expression ({exc})"
    return None


def is_str_map(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return None
    return "must be a mapping of names to strings"


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        if value in choices:
            return None
        return f"must be one of {', '.join(choices)}, not {_yaml(value)}"
    return check


def is_state(value: Any) -> str | None:
    return None if value is None else one_of(*STATES)(value)


def is_mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else f"must be a mapping, not {_kind(value)}"


def is_list(value: Any) -> str | None:
    return None if isinstance(value, list) else f"must be a list, not {_kind(value)}"


TOP_FIELDS: dict[str, Check] = {
    "project": is_nonempty_str, "repo": is_name, "workdir": is_name,
    "created": is_opt_str, "model": is_opt_name, "modelTier": is_opt_str, "socket": is_opt_name,
    "base": is_name, "agent": is_nonempty_str, "agents": is_mapping,
    "max_parallel": is_positive_int, "sameFile": one_of("serialize", "allow"),
    "phases": is_list, "stall_minutes": is_positive_number, "max_attempts": is_positive_int,
    "retry_backoff_seconds": is_number, "verify_timeout_minutes": is_positive_number,
    "hook": is_bool, "forge": one_of("git", "github"), "gate": one_of("complete", "merged"),
    "merge": one_of("manual", "auto"), "push": one_of("done", "early"),
    "cleanup": one_of("manual", "on-merge"), "labels": is_str_map,
}
TOP_REQUIRED = ("repo", "phases")
FIELD_HINTS = {"repo": "owner/name, a git URL, a local path or demo",
               "workdir": "a directory path", "id": "a short id such as t1"}
PHASE_FIELDS: dict[str, Check] = {"name": is_nonempty_str, "tasks": is_list}
TASK_FIELDS: dict[str, Check] = {
    "id": is_str, "issue": is_opt_positive_int, "title": is_str, "files": is_str_list,
    "dependsOn": is_str_list, "body": is_str, "description": is_str, "agent": is_nonempty_str,
    "model": is_opt_name, "prompt": is_name, "verify": is_nonempty_str,
    "status": is_state, "worktree": is_opt_str, "tmuxSession": is_opt_str,
    "startedAt": is_opt_str, "lastProgress": is_opt_str, "completedAt": is_opt_str,
    "prNumber": is_opt_positive_int,
}
LIST_CHECKS = (is_str_list, is_regex_list)
AGENT_FIELDS: dict[str, Check] = {
    "command": is_str_list, "extends": one_of(*agent_profiles.BUILTIN), "model_args": is_str_list,
    "stdin": is_bool, "interactive": is_bool, "waiting": is_regex_list, "idle": is_regex_list,
    "error": is_regex_list, "env": is_str_map, "answers": is_answer_list,
}


def check_fields(source: Source, path: FieldPath, value: dict[str, Any],
                 fields: dict[str, Check], required: tuple[str, ...] = ()) -> bool:
    """Check a mapping against its fields; True when every key is known and well typed."""
    ok = True
    for key, item in value.items():
        check = fields.get(key)
        if check is None:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(fields)}"
            source.error(path + (key,), f"unknown key '{key}'; {hint}")
            ok = False
        elif (problem := check(item)) is not None:
            hint = FIELD_HINTS.get(key)
            source.error(path + (key,), problem.replace("give a value", f"give {hint}")
                         if hint else problem)
            ok = False
        elif check in LIST_CHECKS:
            for i, entry in enumerate(item):
                if not isinstance(entry, str):
                    source.error(path + (key, i), f"must be a string, not {_kind(entry)}; quote it")
                    ok = False
    for key in required:
        if key not in value:
            source.error(path, f"missing required key '{key}'; add it")
            ok = False
    return ok


# ---------------------------------------------------------------------------------------------


def load(path: str | Path) -> Manifest:
    """Read, validate and type a manifest; raise ManifestError listing every problem."""
    path = Path(path)
    name = display_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([f"{name}:1: (file): not found; create it or point to another"])
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([f"{name}:1: (file): cannot be read ({exc}); check the file"])
    return load_text(text, path)


def load_text(text: str, path: Path) -> Manifest:
    source = parse(text, display_name(path))
    if source.errors:
        raise ManifestError(source.errors)
    data = source.data
    if not isinstance(data, dict):
        source.error((), f"the manifest must be a mapping with 'repo' and 'phases', not {_kind(data)}")
        raise ManifestError(source.errors)
    check_fields(source, (), data, TOP_FIELDS, TOP_REQUIRED)
    profiles = _agents(source, data.get("agents"))
    phases = _phases(source, data.get("phases"))
    _check_agents(source, data, phases, profiles)
    _check_prompts(source, path.parent, phases)
    _check_dependencies(source, phases, _raw_ids(data))
    if source.errors:
        raise ManifestError(source.errors)
    root = path.parent
    return Manifest(
        path=path.resolve(),
        project=data.get("project") or root.resolve().name,
        repo=data["repo"],
        workdir=(root / data.get("workdir", DEFAULT_WORKDIR)).resolve(),
        phases=tuple(phases),
        base=data.get("base", "main"),
        agent=data.get("agent", DEFAULT_AGENT),
        agents=profiles,
        model=data.get("model"),
        model_tier=data.get("modelTier"),
        max_parallel=data.get("max_parallel", DEFAULT_MAX_PARALLEL),
        same_file=data.get("sameFile", "serialize"),
        socket=data.get("socket"),
        created=data.get("created"),
        **{key: data.get(key, default) for key, default in HEARTBEAT_DEFAULTS.items()},
        **{key: data.get(key, default) for key, default in
           {**DELIVERY_DEFAULTS, "forge": default_forge(data["repo"])}.items()},
        labels={k.lower(): v for k, v in data.get("labels", {}).items()},
    )


def default_forge(repo: str) -> str:
    """GitHub for `owner/name`, plain git for every other remote."""
    return "github" if re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", repo) and not \
        repo.startswith(".") else "git"


def _agents(source: Source, raw: Any) -> dict[str, agent_profiles.AgentProfile]:
    if not isinstance(raw, dict):
        return {}
    profiles = {}
    for name, spec in raw.items():
        path: FieldPath = ("agents", name)
        if not isinstance(spec, dict):
            source.error(path, "must be a mapping with at least 'command: [program, args...]'")
            continue
        required = () if "extends" in spec else ("command",)
        if not check_fields(source, path, spec, AGENT_FIELDS, required):
            continue
        command = spec.get("command")
        if command is not None and not command:
            source.error(path + ("command",), "must name a program: [program, args...]")
            continue
        bad = [(key, placeholder) for key in ("command", "model_args")
               for element in spec.get(key, [])
               for placeholder in agent_profiles.unknown_placeholders(element)]
        for key, placeholder in bad:
            source.error(path + (key,), f"unknown placeholder {placeholder}; use one of "
                         f"{', '.join(agent_profiles.PLACEHOLDERS)}")
        if not bad:
            profiles[name] = agent_profiles.profile_from_manifest(name, spec)
    return profiles


def _phases(source: Source, raw: Any) -> list[Phase]:
    if not isinstance(raw, list):
        return []
    if not raw:
        source.error(("phases",), "is empty; add at least one phase with tasks")
    phases: list[Phase] = []
    index = 0
    for p, spec in enumerate(raw):
        path: FieldPath = ("phases", p)
        if not isinstance(spec, dict):
            source.error(path, f"must be a mapping with 'name' and 'tasks', not {_kind(spec)}")
            continue
        check_fields(source, path, spec, PHASE_FIELDS, ("tasks",))
        tasks_raw = spec.get("tasks")
        if isinstance(tasks_raw, list) and not tasks_raw:
            source.error(path + ("tasks",), "is empty; add tasks to this phase or remove it")
        tasks = []
        for t, task_spec in enumerate(tasks_raw if isinstance(tasks_raw, list) else []):
            task = _task(source, path + ("tasks", t), task_spec, index, len(phases))
            index += 1
            if task is not None:
                tasks.append(task)
        name = spec.get("name") if isinstance(spec.get("name"), str) else f"Phase {p + 1}"
        phases.append(Phase(name=name, tasks=tuple(tasks)))
    return phases


def _task(source: Source, path: FieldPath, spec: Any, index: int, phase: int) -> Task | None:
    if not isinstance(spec, dict):
        source.error(path, f"must be a mapping with at least 'id', not {_kind(spec)}")
        return None
    if not check_fields(source, path, spec, TASK_FIELDS, ("id",)):
        return None
    task_id = spec["id"]
    if not ID_PATTERN.match(task_id):
        source.error(path + ("id",), f"{task_id!r} cannot become a branch or tmux session name; "
                     "use 1-63 letters, digits, '-' or '_', starting with a letter or digit")
        return None
    if "body" in spec and "description" in spec:
        source.error(path + ("description",), "give either 'body' or 'description', not both")
    files = []
    for f, entry in enumerate(spec.get("files", [])):
        normal = _check_file(source, path + ("files", f), entry)
        if normal is not None:
            files.append(normal)
    issue = spec.get("issue")
    return Task(
        id=task_id, index=index, phase=phase,
        title=spec.get("title") or (f"Issue #{issue}" if issue else task_id),
        issue=issue,
        body=spec.get("body", spec.get("description", "")),
        files=tuple(files),
        depends_on=tuple(spec.get("dependsOn", [])),
        agent=spec.get("agent"), model=spec.get("model"), prompt=spec.get("prompt"),
        verify=spec.get("verify"),
        runtime={k: spec[k] for k in RUNTIME_FIELDS if spec.get(k) is not None},
        source_path=path,
    )


def _check_file(source: Source, path: FieldPath, entry: str) -> str | None:
    """Normalise a `files` entry; refuse what could reach outside the repository."""
    if not entry.strip() or "\0" in entry:
        source.error(path, "must be a non-empty path inside the repository")
        return None
    if entry.startswith("~"):
        source.error(path, f"{entry!r} points into a home directory; give a path relative to the "
                     "repository root")
        return None
    if entry.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", entry):
        source.error(path, f"{entry!r} is absolute; give the path relative to the repository root")
        return None
    parts = entry.replace("\\", "/").split("/")
    if entry.replace("\\", "/").startswith("/"):
        source.error(path, f"{entry!r} is absolute (a backslash is a path separator here); give "
                     "the path relative to the repository root")
        return None
    if ".." in parts:
        source.error(path, f"{entry!r} escapes the repository with '..'; "
                     "give a path inside the repository")
        return None
    normal = posixpath.normpath("/".join(parts))
    return "" if normal == "." else normal


def _check_agents(source: Source, data: dict[str, Any], phases: list[Phase],
                  profiles: dict[str, agent_profiles.AgentProfile]) -> None:
    # A profile that failed its own checks is still defined: do not call it unknown as well.
    defined = data.get("agents") if isinstance(data.get("agents"), dict) else {}
    known = sorted({*agent_profiles.BUILTIN, *profiles, *defined})

    def check(path: FieldPath, name: Any) -> None:
        if isinstance(name, str) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            source.error(path, f"unknown agent '{name}'; {hint}use one of {', '.join(known)} "
                         "or define it under 'agents'")

    check(("agent",), data.get("agent", DEFAULT_AGENT))
    for task in (t for phase in phases for t in phase.tasks):
        if task.agent:
            check(task.source_path + ("agent",), task.agent)


def _check_prompts(source: Source, root: Path, phases: list[Phase]) -> None:
    prompts = (root / "prompts").resolve()
    for task in (t for phase in phases for t in phase.tasks):
        if not task.prompt:
            continue
        where = task.source_path + ("prompt",)
        try:
            target = (prompts / task.prompt).resolve()
            outside = task.prompt.startswith("/") or not target.is_relative_to(prompts)
            missing = not outside and not target.is_file()
        except (OSError, ValueError) as exc:  # a NUL, or a name longer than the system allows
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            source.error(where, f"is not a usable file name ({reason}); name a template in prompts/")
            continue
        if outside:
            source.error(where, f"{task.prompt!r} is outside prompts/; name a template in prompts/")
        elif missing:
            source.error(where, f"template prompts/{task.prompt} not found; create it or fix the name")


def _raw_ids(data: dict[str, Any]) -> set[str]:
    """Every id written in the manifest, including tasks that failed other checks."""
    phases = data.get("phases") if isinstance(data.get("phases"), list) else []
    return {task["id"] for phase in phases if isinstance(phase, dict)
            for task in (phase.get("tasks") if isinstance(phase.get("tasks"), list) else [])
            if isinstance(task, dict) and isinstance(task.get("id"), str)}


def _check_dependencies(source: Source, phases: list[Phase], written: set[str]) -> None:
    """Duplicate ids, unknown or self dependencies, cycles, and dependencies on later phases."""
    by_id = _unique_ids(source, phases)
    _check_references(source, phases, by_id, written)
    if not source.errors:
        cycle = find_cycle({t.id: list(t.depends_on) for t in by_id.values()})
        if cycle:
            where = by_id[cycle[0]].source_path + ("dependsOn",)
            source.error(where, f"dependency cycle {' -> '.join(cycle)} (each waits for the next); "
                         "remove one of these dependencies")


def _unique_ids(source: Source, phases: list[Phase]) -> dict[str, Task]:
    """Tasks by id; a repeated id, or one that differs from another only in case, is an error."""
    by_id: dict[str, Task] = {}
    folded: dict[str, Task] = {}
    for task in (t for phase in phases for t in phase.tasks):
        if task.id in by_id:
            first = source.line(by_id[task.id].source_path)
            source.error(task.source_path + ("id",), f"duplicate id '{task.id}' "
                         f"(first used on line {first}); give each task its own id")
        elif task.id.lower() in folded:
            other = folded[task.id.lower()]
            source.error(task.source_path + ("id",), f"'{task.id}' differs from '{other.id}' "
                         f"(line {source.line(other.source_path)}) only in case, so their "
                         "branches and worktrees clash on some systems; rename one")
        else:
            by_id[task.id] = task
            folded[task.id.lower()] = task
    return by_id


def _check_references(source: Source, phases: list[Phase], by_id: dict[str, Task],
                      written: set[str]) -> None:
    compared = 0
    for task in by_id.values():
        for d, dep in enumerate(task.depends_on):
            where = task.source_path + ("dependsOn", d)
            if dep in task.depends_on[:d]:
                source.error(where, f"'{dep}' is listed twice; keep one")
            elif dep == task.id:
                source.error(where, f"task '{task.id}' depends on itself; remove it")
            elif dep not in written:
                compared += len(written)
                close = (difflib.get_close_matches(dep, written, n=1)
                         if compared <= HINT_COMPARISONS else [])
                hint = f"did you mean '{close[0]}'?" if close else "check the id"
                source.error(where, f"unknown task '{dep}'; {hint}")
            elif dep in by_id and by_id[dep].phase > task.phase:
                source.error(where, f"'{task.id}' ({phases[task.phase].name}) depends on "
                             f"'{dep}' in a later phase ({phases[by_id[dep].phase].name}), which "
                             "the phase gate makes a cycle; move one of them")


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """Return one cycle as [a, b, ..., a], or None. Iterative, so deep chains do not recurse."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(edges, WHITE)
    for start in edges:
        if color[start] != WHITE:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        color[start] = GREY
        while stack:
            node, i = stack[-1]
            targets = edges.get(node, [])
            if i < len(targets):
                stack[-1] = (node, i + 1)
                nxt = targets[i]
                if color.get(nxt) == GREY:
                    trail = [n for n, _ in stack]
                    return trail[trail.index(nxt):] + [nxt]
                if color.get(nxt) == WHITE:
                    color[nxt] = GREY
                    stack.append((nxt, 0))
            else:
                color[node] = BLACK
                stack.pop()
    return None
