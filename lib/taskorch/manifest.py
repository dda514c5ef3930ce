"""Load and validate `orchestrator.yaml` into typed objects.

The schema is the task-orchestrator skill's JSON manifest plus taskorch's own keys, declared once
in schema.py (each key's check, default, hint and help); this module applies it and adds the
checks that look at more than one value (ids, dependencies, branches, agents, prompts). Every
problem is collected before anything runs, and each is one line: `file:LINE: path.to.field: what
is wrong and how to fix it`. The YAML is the user's: nothing here writes it.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from taskorch import agents as agent_profiles
from taskorch import git, schema
from taskorch.errors import TaskorchError
from taskorch.lifecycle import State
from taskorch.schema import _kind
from taskorch.yamlsource import FieldPath, Source, display_name, parse

# The skill's eight, and `skipped`: done by a person's word (`doit skip`), so dependents start,
# with nothing verified and so nothing delivered. The lifecycle (lifecycle.py) moves between them.
STATES = tuple(state.value for state in State)
ID_PATTERN = schema.ID_PATTERN
_TOP = {f.attribute: f.default for f in schema.TOP.values()}
_TASK = {f.attribute: f.default for f in schema.TASK.values()}
DEFAULT_WORKDIR: str = _TOP["workdir"]
DEFAULT_AGENT: str = _TOP["agent"]
DEFAULT_MAX_PARALLEL: int = _TOP["max_parallel"]
# difflib compares a name with every id (about 5 us each), so a hint for each of thousands of
# unknown ids would make loading quadratic; past this many comparisons the errors still come,
# without "did you mean".
HINT_COMPARISONS = 200_000
RUNTIME_FIELDS = schema.runtime_fields()


class ManifestError(TaskorchError):
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
    issue: int | None = _TASK["issue"]
    body: str = _TASK["body"]
    files: tuple[str, ...] = tuple(_TASK["files"])
    depends_on: tuple[str, ...] = tuple(_TASK["depends_on"])
    agent: str | None = _TASK["agent"]
    model: str | None = _TASK["model"]
    prompt: str | None = _TASK["prompt"]
    verify: str | None = _TASK["verify"]
    priority: str = _TASK["priority"]
    budget: dict[str, Any] | None = None  # {usd, tokens}: schema.TASK
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
    # Each key's meaning and default: schema.TOP.
    base: str = _TOP["base"]
    agent: str = _TOP["agent"]
    agents: dict[str, agent_profiles.AgentProfile] = field(default_factory=dict)
    model: str | None = _TOP["model"]
    model_tier: str | None = _TOP["model_tier"]
    max_parallel: int = _TOP["max_parallel"]
    same_file: str = _TOP["same_file"]
    socket: str | None = _TOP["socket"]
    runner: Any = _TOP["runner"]  # `tmux`, `slurm` or {kind, ...}: runner_options() reads it
    created: str | None = _TOP["created"]
    stall_minutes: float = _TOP["stall_minutes"]
    max_attempts: int = _TOP["max_attempts"]
    retry_backoff_seconds: float = _TOP["retry_backoff_seconds"]
    verify_timeout_minutes: float = _TOP["verify_timeout_minutes"]
    hook: bool = _TOP["hook"]
    forge: str = _TOP["forge"]
    gate: str = _TOP["gate"]
    merge: str = _TOP["merge"]
    push: str = _TOP["push"]
    checks: str | None = _TOP["checks"]
    reactions: dict[str, Any] | None = None  # schema.TOP; reaction() reads it
    cleanup: str = _TOP["cleanup"]
    labels: dict[str, str] = field(default_factory=dict)
    budget: dict[str, Any] | None = None  # {usd, tokens}: schema.TOP
    notify: list[dict[str, Any]] | None = None  # sinks: schema.TOP, notify/

    def reaction(self, key: str) -> Any:
        """A merge-gate reaction (ci_failed, changes_requested, conflict) or max_rounds."""
        return (self.reactions or {}).get(key, schema.REACTION_DEFAULTS[key])

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

    def runner_options(self) -> dict[str, Any]:
        """The runner as a mapping: {kind: slurm, ...}; `tmux` is {kind: tmux}."""
        return {"kind": self.runner} if isinstance(self.runner, str) else dict(self.runner)


# ---------------------------------------------------------------------------------------------
# Field checks: schema.py holds every key with its check, hint and default; these are its tables.

TOP_FIELDS = schema.TOP
PHASE_FIELDS = schema.PHASE
TASK_FIELDS = schema.TASK
AGENT_FIELDS = schema.AGENT


def check_fields(source: Source, path: FieldPath, value: dict[str, Any],
                 fields: dict[str, schema.Field], required: tuple[str, ...] = ()) -> bool:
    """Check a mapping against its level's fields; True when every key is known and well typed."""
    ok = True
    for key, item in value.items():
        known = fields.get(key)
        if known is None:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(fields)}"
            source.error(path + (key,), f"unknown key '{key}'; {hint}")
            ok = False
        elif (problem := known.kind.check(item)) is not None:
            source.error(path + (key,), problem.replace("give a value", f"give {known.hint}")
                         if known.hint else problem)
            ok = False
        elif known.kind.entries:
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
    check_fields(source, (), data, TOP_FIELDS, schema.required("top"))
    profiles = _agents(source, data.get("agents"))
    phases = _phases(source, data.get("phases"))
    _check_agents(source, data, phases, profiles)
    _check_prompts(source, path.parent, phases)
    _check_dependencies(source, phases, _raw_ids(data))
    if source.errors:
        raise ManifestError(source.errors)
    root = path.parent
    # Every key as written or its schema default; then the ones built from more than their value.
    values = {f.attribute: data.get(f.name, f.default) for f in schema.TOP.values()}
    values.update(
        path=path.resolve(),
        project=data.get("project") or root.resolve().name,
        workdir=(root / values["workdir"]).resolve(),
        phases=tuple(phases),
        agents=profiles,
        forge=data.get("forge") or default_forge(data["repo"]),
        labels={k.lower(): v for k, v in values["labels"].items()},
    )
    return Manifest(**values)


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
        if not check_fields(source, path, spec, AGENT_FIELDS, schema.required("agent", spec)):
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
        if bad:
            continue
        profile = agent_profiles.profile_from_manifest(name, spec)
        if profile.hooks and agent_profiles.HOOK_ARGS not in profile.command:
            source.error(path + ("hooks",), f"{profile.hooks} hooks need "
                         f"{agent_profiles.HOOK_ARGS} in command, where their arguments go (say, "
                         f"right after the program); or set hooks: null")
            continue
        profiles[name] = profile
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
        check_fields(source, path, spec, PHASE_FIELDS, schema.required("phase"))
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
    if not check_fields(source, path, spec, TASK_FIELDS, schema.required("task")):
        return None
    task_id = spec["id"]
    if not ID_PATTERN.match(task_id):
        source.error(path + ("id",), f"{task_id!r} cannot become a branch or tmux session name; "
                     "use 1-63 letters, digits, '-' or '_', starting with a letter or digit")
        return None
    if "body" in spec and "description" in spec:
        source.error(path + ("description",), "give either 'body' or 'description', not both")
    files = []
    for f, entry in enumerate(spec.get("files", _TASK["files"])):
        normal = _check_file(source, path + ("files", f), entry)
        if normal is not None:
            files.append(normal)
    issue = spec.get("issue")
    return Task(
        id=task_id, index=index, phase=phase,
        title=spec.get("title") or (f"Issue #{issue}" if issue else task_id),
        issue=issue,
        body=spec.get("body", spec.get("description", _TASK["body"])),
        files=tuple(files),
        depends_on=tuple(spec.get("dependsOn", _TASK["depends_on"])),
        agent=spec.get("agent"), model=spec.get("model"), prompt=spec.get("prompt"),
        verify=spec.get("verify"), budget=spec.get("budget"),
        priority=spec.get("priority", _TASK["priority"]),
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
    _check_remote(source, data, phases, profiles)


def _check_remote(source: Source, data: dict[str, Any], phases: list[Phase],
                  profiles: dict[str, agent_profiles.AgentProfile]) -> None:
    """A remote runner's job has no terminal: an interactive agent would wait there for ever."""
    runner = data.get("runner", "tmux")
    kind = runner.get("kind") if isinstance(runner, dict) else runner
    if kind in (None, "tmux"):
        return
    uses = [(("agent",), data.get("agent", DEFAULT_AGENT))] + [
        (t.source_path + ("agent",), t.agent) for phase in phases for t in phase.tasks if t.agent]
    for path, name in uses:
        profile = profiles.get(name) or agent_profiles.BUILTIN.get(name)
        if profile is not None and profile.person:
            source.error(path, f"agent '{name}' is a person, who works in a local worktree, "
                         f"and runner: {kind} runs jobs elsewhere; use runner: tmux for it")
            return
        if profile is not None and profile.interactive:
            source.error(path, f"agent '{name}' is interactive, and runner: {kind} runs only "
                         "non-interactive profiles (codex-exec, claude-p, aider, or your own); "
                         "pick one of those")
            return


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
    _check_branches(source, by_id)
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


def _check_branches(source: Source, by_id: dict[str, Task]) -> None:
    """Two tasks must not share a branch: the second would launch into the first's worktree and
    deliver its work as the first's (the same issue and title, or ids and titles that slug alike)."""
    owners: dict[str, Task] = {}
    for task in by_id.values():
        branch = git.branch_name(task.id, task.title, task.issue)
        first = owners.setdefault(branch, task)
        if first is not task:
            titled = task.source_path + ("title",) in source.lines
            key = "issue" if task.issue else "title" if titled else "id"
            what = "issue or title" if task.issue else "id or title"
            source.error(task.source_path + (key,), f"branch {branch} is also task {first.id}'s; "
                         f"give each task its own {what}")


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
