"""The manifest's schema: every key at every level, declared once (issue 10).

Each `Field` holds a key's name, its level (top, phase, task, agent profile, answer), its kind
(the check that validates it, the JSON Schema that describes it, the word the README uses for
it), its default and its help. Three things are generated from this one table, so they cannot
drift apart:

- validation (manifest.py): the checks, the required keys, the hints, the defaults that
  `Manifest` and `Task` are built with;
- the README's reference tables, between `<!-- schema:begin -->` and `<!-- schema:end -->`
  (`python -m taskorch.schema --readme README.md` rewrites them; a test fails when they differ);
- `json_schema()`: a JSON Schema (draft 2020-12) of the manifest, for editors and CI
  (`python -m taskorch.schema --json`).

The checks return None for a good value, else the end of an error sentence; their words are
what `doit plan` prints, pinned by tests/test_bad_manifests.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from taskorch import agents as agent_profiles
from taskorch import notify, signals

Check = Callable[[Any], "str | None"]
LEVELS = ("top", "phase", "task", "agent", "answer")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# ECMA-262 and Python's re read these alike: some non-blank character, and (for names that
# become paths, refs or arguments) no NUL byte anywhere.
NONBLANK = r"\S"
# What the JSON Schema can say of paths and placeholders, checked again (with the file and
# line) by the manifest's own checks: a files entry is relative to the repository, a prompt
# names a template in prompts/, and an argv element holds only placeholders taskorch fills.
OUTSIDE = r"^[/~]"
UNKNOWN_PLACEHOLDER = (r"\{(?!(?:" + "|".join(
    p.strip("{}") for p in (*agent_profiles.PLACEHOLDERS, agent_profiles.MODEL_ARGS,
                            agent_profiles.HOOK_ARGS)) + r")\})[A-Za-z_-]+\}")
NAME_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


# ---------------------------------------------------------------------------------------------
# Checks: each returns None when the value is fine, else the end of an error sentence.


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
    names = ", ".join(ANSWER)
    if not isinstance(value, list):
        return f"must be a list of {{{names}}} mappings, not {_kind(value)}"
    for i, answer in enumerate(value):
        if not isinstance(answer, dict) or not isinstance(answer.get("match"), str):
            return f"entry {i} must be a mapping with a 'match' regular expression"
        unknown = set(answer) - set(ANSWER)
        if unknown:
            return f"entry {i} has unknown key '{sorted(unknown)[0]}'; use {names}"
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


def is_budget(value: Any) -> str | None:
    """{usd: 5.0} or {tokens: 2000000}, or both: what a project or a task may spend."""
    if not isinstance(value, dict):
        return f"must be a mapping such as {{usd: 5.0}} or {{tokens: 2000000}}, not {_kind(value)}"
    unknown = sorted(set(value) - set(BUDGET_KEYS))
    if unknown:
        return f"has unknown key '{unknown[0]}'; use usd, tokens or both"
    if not value:
        return "is empty; give usd, tokens or both, such as {usd: 5.0}"
    if "usd" in value and is_positive_number(value["usd"]):
        return f"usd {is_positive_number(value['usd'])}"
    if "tokens" in value and is_positive_int(value["tokens"]):
        return f"tokens {is_positive_int(value['tokens'])}"
    return None


PRIORITIES = ("low", "medium", "high")  # a task's `priority`, lowest first

# What the merge gate does when it fails (mergegate.py), per cause; max_rounds caps the rounds.
REACTION_CHOICES = {"ci_failed": ("agent", "notify", "ignore"),
                    "changes_requested": ("agent", "notify", "ignore"),
                    "conflict": ("agent", "notify")}
REACTION_DEFAULTS = {"ci_failed": "agent", "changes_requested": "agent", "conflict": "agent",
                     "max_rounds": 3}


def is_reactions(value: Any) -> str | None:
    """{ci_failed: agent, conflict: notify, max_rounds: 3}: what a failed merge gate does."""
    names = ", ".join(REACTION_DEFAULTS)
    if not isinstance(value, dict):
        return f"must be a mapping of {names}, not {_kind(value)}"
    unknown = sorted(set(value) - set(REACTION_DEFAULTS))
    if unknown:
        return f"has unknown key '{unknown[0]}'; use {names}"
    for key, choices in REACTION_CHOICES.items():
        if key in value and value[key] not in choices:
            return f"{key} must be one of {', '.join(choices)}, not {_yaml(value[key])}"
    if "max_rounds" in value and is_positive_int(value["max_rounds"]):
        return f"max_rounds {is_positive_int(value['max_rounds'])}"
    return None


RUNNER_KEYS = {"tmux": ("kind",), "slurm": ("kind", "partition", "sbatch"),
               "ray": ("kind", "address", "resources"),
               "batch": ("kind", "job_queue", "task_definition", "cluster", "job_definition",
                         "container_overrides", "region", "endpoint_url")}
RUNNER_REQUIRED = {"ray": ("address",), "batch": ("job_queue", "task_definition", "cluster")}
RUNNER_TEXT = ("partition", "address", "job_queue", "task_definition", "cluster",
               "job_definition", "region", "endpoint_url")


def is_runner(value: Any) -> str | None:
    """`tmux`, `slurm`, or a mapping with `kind:` and that kind's keys (runners/)."""
    kinds = ", ".join(RUNNER_KEYS)
    if isinstance(value, str):
        if value in RUNNER_REQUIRED:
            return (f"{value} needs settings: write {{kind: {value}, "
                    f"{', '.join(k + ': ...' for k in RUNNER_REQUIRED[value])}}}")
        return None if value in RUNNER_KEYS else f"must be one of {kinds}, not {value!r}"
    if not isinstance(value, dict):
        return f"must be one of {kinds}, or a mapping such as {{kind: slurm}}, not {_kind(value)}"
    kind = value.get("kind")
    if kind not in RUNNER_KEYS:
        return f"needs kind: one of {kinds}" + (f", not {kind!r}" if kind is not None else "")
    unknown = sorted(set(value) - set(RUNNER_KEYS[kind]))
    if unknown:
        return (f"has unknown key '{unknown[0]}' for kind {kind}; use "
                f"{', '.join(RUNNER_KEYS[kind])}")
    missing = [key for key in RUNNER_REQUIRED.get(kind, ()) if key not in value]
    if missing:
        return f"kind {kind} needs {missing[0]}"
    for key in RUNNER_TEXT:
        if key in value and is_name(value[key]):
            return f"{key} {is_name(value[key])}"
    if "sbatch" in value and is_str_list(value["sbatch"]):
        return f"sbatch {is_str_list(value['sbatch'])}"
    if "resources" in value and not (isinstance(value["resources"], dict) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
            for v in value["resources"].values())):
        return "resources must map resource names to amounts > 0, such as {agent_slot: 1}"
    if "container_overrides" in value and is_mapping(value["container_overrides"]):
        return f"container_overrides {is_mapping(value['container_overrides'])}"
    return None


def is_mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else f"must be a mapping, not {_kind(value)}"


def is_list(value: Any) -> str | None:
    return None if isinstance(value, list) else f"must be a list, not {_kind(value)}"


# ---------------------------------------------------------------------------------------------
# Kinds: a check together with the JSON Schema that says the same, and the README's word for it.


@dataclass(frozen=True)
class Kind:
    check: Check
    json: Callable[[], dict[str, Any]]
    text: str                 # the README's type column
    entries: bool = False     # a list whose entries check_fields checks one by one (each a string)


def _const(schema: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: json.loads(json.dumps(schema))  # a fresh copy each time


STRING = Kind(is_str, _const({"type": "string"}), "text")
TEXT = Kind(is_nonempty_str, _const({"type": "string", "pattern": NONBLANK}), "text")
NAME = Kind(is_name, _const({"type": "string", "pattern": NAME_PATTERN}), "text")
OPT_STRING = Kind(is_opt_str, _const({"type": ["string", "null"]}), "text")
OPT_NAME = Kind(is_opt_name, _const({"type": ["string", "null"], "pattern": NAME_PATTERN}), "text")
BOOL = Kind(is_bool, _const({"type": "boolean"}), "true/false")
COUNT = Kind(is_positive_int, _const({"type": "integer", "minimum": 1, "maximum": 2**63 - 1}),
             "whole number ≥ 1")
OPT_COUNT = Kind(is_opt_positive_int, _const({"type": ["integer", "null"], "minimum": 1,
                                              "maximum": 2**63 - 1}), "whole number ≥ 1")
POSITIVE = Kind(is_positive_number, _const({"type": "number", "exclusiveMinimum": 0}), "number > 0")
NUMBER = Kind(is_number, _const({"type": "number", "minimum": 0}), "number ≥ 0")
STR_LIST = Kind(is_str_list, _const({"type": "array", "items": {"type": "string"}}),
                "list of text", entries=True)
REGEX_LIST = Kind(is_regex_list, _const({"type": "array", "items": {"type": "string",
                                                                     "format": "regex"}}),
                  "list of regexes", entries=True)
STR_MAP = Kind(is_str_map, _const({"type": "object", "additionalProperties": {"type": "string"}}),
               "mapping of text")
BUDGET_KEYS = ("usd", "tokens")
# Its two keys as patternProperties with propertyNames: a value, not a level of its own.
BUDGET = Kind(is_budget, _const({"type": "object", "minProperties": 1,
                                 "propertyNames": {"enum": list(BUDGET_KEYS)},
                                 "patternProperties": {
                                     "^usd$": {"type": "number", "exclusiveMinimum": 0},
                                     "^tokens$": {"type": "integer", "minimum": 1}}}),
              "{usd, tokens}")
# Like BUDGET, patternProperties: a value, not a level of its own.
RUNNER = Kind(is_runner, _const({"oneOf": [
    {"enum": ["tmux", "slurm"]},
    {"type": "object", "required": ["kind"],
     "propertyNames": {"enum": sorted({k for keys in RUNNER_KEYS.values() for k in keys})},
     "patternProperties": {
         "^kind$": {"enum": list(RUNNER_KEYS)},
         **{f"^{key}$": {"type": "string"} for key in RUNNER_TEXT},
         "^sbatch$": {"type": "array", "items": {"type": "string"}},
         "^resources$": {"type": "object", "additionalProperties": {"type": "number",
                                                                    "exclusiveMinimum": 0}},
         "^container_overrides$": {"type": "object"}}}]}),
    "`tmux`, `slurm` or {kind, ...}")
# Like RUNNER, patternProperties: each entry is a value, not a level of its own.
NOTIFY = Kind(notify.problem, _const({"type": "array", "items": {
    "type": "object",
    "propertyNames": {"enum": ["command", "webhook", "optional", "timeout", "retries"]},
    "oneOf": [{"required": ["command"], "not": {"required": ["webhook"]}},
              {"required": ["webhook"], "not": {"anyOf": [{"required": ["command"]},
                                                           {"required": ["optional"]}]}}],
    "patternProperties": {
        "^command$": {"type": "array", "minItems": 1,
                      "items": {"type": "string", "pattern": NAME_PATTERN}},
        "^webhook$": {"type": "string", "pattern": "^https?://[^/?#]+"},
        "^optional$": {"type": "boolean"},
        "^timeout$": {"type": "number", "exclusiveMinimum": 0},
        "^retries$": {"type": "integer", "minimum": 0, "maximum": 20}}}}),
    "list of {command} or {webhook}")
# Like BUDGET, patternProperties: a value, not a level of its own.
REACTIONS = Kind(is_reactions, _const({
    "type": "object", "propertyNames": {"enum": list(REACTION_DEFAULTS)},
    "patternProperties": {**{f"^{k}$": {"enum": list(v)} for k, v in REACTION_CHOICES.items()},
                          "^max_rounds$": {"type": "integer", "minimum": 1}}}),
    "{ci_failed, changes_requested, conflict, max_rounds}")
ANSWERS = Kind(is_answer_list, _const({"type": "array", "items": {"$ref": "#/$defs/answer"}}),
               "list of answers")


def one_of(choices: tuple[str, ...] | Callable[[], tuple[str, ...]], *,
           nullable: bool = False, text: str | None = None) -> Kind:
    """One of a fixed set of words (`choices` may be a function, read when checking, for sets
    that live elsewhere: the task states, the built-in agents)."""
    def values() -> tuple[str, ...]:
        return tuple(choices()) if callable(choices) else tuple(choices)

    def check(value: Any) -> str | None:
        if (value is None and nullable) or value in values():
            return None
        return f"must be one of {', '.join(values())}, not {_yaml(value)}"

    return Kind(check, lambda: {"enum": [*values(), *([None] if nullable else [])]},
                text or _words(values()))


def _words(choices: tuple[str, ...]) -> str:
    """`a`, `b` or `c`"""
    quoted = [f"`{c}`" for c in choices]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]


def mapping_of(level: str, text: str) -> Kind:
    return Kind(is_mapping, lambda: {"type": "object",
                                     "additionalProperties": {"$ref": f"#/$defs/{level}"}}, text)


def list_of(level: str, text: str) -> Kind:
    return Kind(is_list, lambda: {"type": "array", "minItems": 1,
                                  "items": {"$ref": f"#/$defs/{level}"}}, text)


def _states() -> tuple[str, ...]:
    from taskorch.manifest import STATES  # the lifecycle's states, as manifest.py exposes them
    return STATES


def _builtin_agents() -> tuple[str, ...]:
    return tuple(agent_profiles.BUILTIN)


def _parsers() -> tuple[str, ...]:
    return tuple(signals.PARSERS)


def _hook_wirings() -> tuple[str, ...]:
    from taskorch.hooks import HOOKS  # imported late, like manifest: schema.py is imported first
    return tuple(HOOKS)


# ---------------------------------------------------------------------------------------------
# The table.

NO_DEFAULT = object()  # a required key, or one whose absence means nothing is set


@dataclass(frozen=True)
class Field:
    name: str
    level: str
    kind: Kind
    help: str
    default: Any = None
    required: bool = False
    unless: str | None = None       # required unless this other key is given
    hint: str | None = None         # what "give a value" names in an error
    shown_default: str | None = None  # the README's default, when it is not the value itself
    attr: str | None = None         # the Manifest / Task attribute, when it is not `name`
    runtime: bool = False           # a task's runtime field: seeds the state store once
    extra: dict[str, Any] = field(default_factory=dict)  # more JSON Schema for this key

    @property
    def attribute(self) -> str:
        return self.attr or self.name

    def json(self) -> dict[str, Any]:
        schema = {**self.kind.json(), **json.loads(json.dumps(self.extra))}
        help = self.help
        if self.shown_default is not None:  # worked out from other keys: said, not given
            help += f" (default: {self.shown_default.replace('`', '')})"
        elif self.default is not None and not self.required:
            schema["default"] = self.default
        return {"description": help, **schema}


def _level(level: str, *fields: Field) -> dict[str, Field]:
    assert all(f.level == level for f in fields)
    return {f.name: f for f in fields}


def _f(level: str) -> Callable[..., Field]:
    return lambda name, kind, help, **kw: Field(name, level, kind, help, **kw)


_top, _phase, _task, _agent, _answer = (_f(level) for level in LEVELS)

# Order matters: an unknown key's error lists the known ones in this order.
TOP = _level(
    "top",
    _top("project", TEXT, "the project's name: names the tmux server and the state",
         shown_default="the control directory's name"),
    _top("repo", NAME, "the repository to work on: owner/name (GitHub), a git URL, a local path, "
         "or demo", required=True, hint="owner/name, a git URL, a local path or demo"),
    _top("workdir", NAME, "the work directory (clone, worktrees, logs, state), relative to the "
         "manifest", default=".orchestrator", hint="a directory path"),
    _top("created", OPT_STRING, "when the manifest was written (the skill's field; kept as text)"),
    _top("model", OPT_NAME, "the model passed to agents whose profile takes one"),
    _top("modelTier", OPT_STRING, "the skill's model tier (kept, not used)", attr="model_tier"),
    _top("socket", OPT_NAME, "a tmux socket path, instead of a private server per project"),
    _top("runner", RUNNER, "where agents run: `tmux` on this machine, or each attempt a job "
         "that clones the repository, runs the agent and pushes its work to the attempt's own "
         "ref: `slurm` (or {kind: slurm, partition, sbatch}), {kind: ray, address, resources} "
         "or {kind: batch, job_queue, task_definition, cluster, ...}; only non-interactive "
         "agent profiles (see Beyond one machine)", default="tmux"),
    _top("base", NAME, "the branch worktrees start from and work is merged into", default="main"),
    _top("agent", TEXT, "the agent profile tasks use: a built-in (codex, codex-exec, claude, "
         "claude-p, aider, demo), human (a person: see `doit done`) or one under agents",
         default="codex"),
    _top("agents", mapping_of("agent", "mapping of profiles"),
         "your own agent profiles, by name (keys below)", default={}),
    _top("max_parallel", COUNT, "agents running at once", default=4),
    _top("sameFile", one_of(("serialize", "allow")), "serialize: tasks whose files overlap run "
         "one after another; allow: only dependsOn and phase gates order tasks",
         default="serialize", attr="same_file"),
    _top("phases", list_of("phase", "list of phases"), "the phases, in order; every task of a "
         "phase waits for all of the phase before", required=True),
    _top("stall_minutes", POSITIVE, "no progress this long: a nudge, then after as long again a "
         "restart", default=20),
    _top("budget", BUDGET, "what the whole project may spend, summed over every task's "
         "attempts: usd (dollars), tokens (in + out) or both; once spent, nothing launches or "
         "retries (the task goes stuck); running agents go on", shown_default="no limit"),
    _top("max_attempts", COUNT, "attempts per task before it stays error", default=3),
    _top("retry_backoff_seconds", NUMBER, "wait before a retry, doubling per attempt, with "
         "jitter, capped at 10 minutes", default=10),
    _top("verify_timeout_minutes", POSITIVE, "how long a task's verify command may run",
         default=30),
    _top("hook", BOOL, "start a heartbeat the moment any agent exits, and when a retry or stall "
         "check falls due", default=True),
    _top("forge", one_of(("git", "github")), "where work is delivered: git pushes branches; "
         "github also opens pull requests through gh", default="git",
         shown_default="github when repo is owner/name, else git"),
    _top("gate", one_of(("complete", "merged")), "when a dependent may start: its predecessors "
         "complete (starting from their branches), or merged", default="complete"),
    _top("merge", one_of(("manual", "auto")), "auto: taskorch merges delivered work into base "
         "itself", default="manual"),
    _top("checks", OPT_STRING, "the merge gate: a shell command run on a delivered task's "
         "verified commit merged into the freshly fetched base, in a scratch worktree, before "
         "merge: auto merges exactly that tested merge (git forge; see The merge gate)"),
    _top("reactions", REACTIONS, "what a failed merge gate does: ci_failed (checks failed) and "
         "conflict (no clean merge) agent (back to its agent with the failure, a new round) or "
         "notify (left open; a person is told); ci_failed also ignore (left open, unmerged); "
         "changes_requested (reviews, github) likewise; max_rounds: rounds before it is stuck",
         shown_default="{ci_failed: agent, changes_requested: agent, conflict: "
         "agent, max_rounds: 3}"),
    _top("push", one_of(("done", "early")), "early: also push running tasks' new commits, so "
         "none is lost", default="done"),
    _top("cleanup", one_of(("manual", "on-merge")), "on-merge: the heartbeat removes merged "
         "tasks' worktrees and branches itself", default="manual"),
    _top("labels", STR_MAP, "issue label -> phase name, for doit import", default={}),
    _top("notify", NOTIFY, "where a person hears what needs them: each entry {command: "
         "[program, args...]} (each event as one JSON line on its standard input, no shell) or "
         "{webhook: URL} (each event as one JSON POST), with timeout (seconds, default 10) and "
         "retries (default 3); optional: true skips a command whose program is not installed. "
         "Events: needs_you, ci_failed, pr_opened, merged, done (see Notifications)"),
)

PHASE = _level(
    "phase",
    _phase("name", TEXT, "the phase's name, shown by plan and status",
           shown_default="Phase N (its position)"),
    _phase("tasks", list_of("task", "list of tasks"), "the phase's tasks", required=True),
)

TASK = _level(
    "task",
    _task("id", STRING, "letters, digits, - and _ (1-63, starting with a letter or digit); "
          "becomes a branch and session name", required=True, hint="a short id such as t1",
          extra={"pattern": ID_PATTERN.pattern}),
    _task("issue", OPT_COUNT, "the issue it fixes: branch `fix/issue-N-<slug>`, else "
          "`task/<id>-<slug>`"),
    _task("title", STRING, "one line saying what to do", shown_default="Issue #N, else the id"),
    _task("files", STR_LIST, "paths, directories or globs it touches, relative to the repository",
          default=[], extra={"items": {"type": "string", "pattern": NONBLANK,
                                       "not": {"pattern": OUTSIDE}}}),
    _task("dependsOn", STR_LIST, "ids of tasks (this phase or earlier) it waits for", default=[],
          attr="depends_on", extra={"uniqueItems": True}),
    _task("body", STRING, "what to do, in words the agent gets verbatim", default=""),
    _task("description", STRING, "the same as body (the skill's name for it); give one of them"),
    _task("agent", TEXT, "this task's agent profile; human: a task for a person, who says "
          "`doit done <id>` when finished", shown_default="the top-level agent"),
    _task("model", OPT_NAME, "this task's model", shown_default="the top-level model"),
    _task("prompt", NAME, "a template in prompts/ for this task's prompt",
          shown_default="`prompts/task.md.j2`", extra={"not": {"pattern": "^/"}}),
    _task("verify", TEXT, "a shell command that must exit 0 in the worktree for complete"),
    _task("priority", one_of(PRIORITIES), "among ready tasks, higher priority launches first, "
          "then the longest chain of tasks waiting on it, then manifest order",
          default="medium"),
    _task("budget", BUDGET, "what this task may spend over all its attempts, like the "
          "top-level budget", shown_default="no limit"),
    _task("status", one_of(_states, nullable=True, text="a task state (below)"),
          "runtime: the state to seed the store with", runtime=True),
    _task("worktree", OPT_STRING, "runtime: seeds the store", runtime=True),
    _task("tmuxSession", OPT_STRING, "runtime: seeds the store", runtime=True),
    _task("startedAt", OPT_STRING, "runtime: seeds the store", runtime=True),
    _task("lastProgress", OPT_STRING, "runtime: seeds the store", runtime=True),
    _task("completedAt", OPT_STRING, "runtime: seeds the store", runtime=True),
    _task("prNumber", OPT_COUNT, "runtime: seeds the store", runtime=True),
)

AGENT = _level(
    "agent",
    _agent("command", STR_LIST, "argv template: [program, args...] with placeholders "
           + ", ".join(agent_profiles.PLACEHOLDERS) + ", " + agent_profiles.MODEL_ARGS + " and "
           + agent_profiles.HOOK_ARGS,
           required=True, unless="extends",
           extra={"minItems": 1, "items": {"type": "string",
                                           "not": {"pattern": UNKNOWN_PLACEHOLDER}}}),
    _agent("extends", one_of(_builtin_agents, text="a built-in's name"),
           "a built-in profile to start from (codex, codex-exec, claude, claude-p, aider, demo); "
           "the keys "
           "given replace its own"),
    _agent("model_args", STR_LIST, "what " + agent_profiles.MODEL_ARGS + " becomes when a model "
           "is set", default=[],
           extra={"items": {"type": "string", "not": {"pattern": UNKNOWN_PLACEHOLDER}}}),
    _agent("stdin", BOOL, "the prompt goes to standard input", default=False),
    _agent("interactive", BOOL, "the agent stays at its own prompt when done", default=False),
    _agent("waiting", REGEX_LIST, "screen patterns: it waits for input", default=[]),
    _agent("idle", REGEX_LIST, "screen patterns: it is idle at its prompt", default=[]),
    _agent("error", REGEX_LIST, "screen patterns: it failed", default=[]),
    _agent("busy", REGEX_LIST, "screen patterns, read on the whole screen: it is working, so "
           "it is not idle whatever else the screen shows", default=[]),
    _agent("env", STR_MAP, "environment variables for the agent", default={}),
    _agent("answers", ANSWERS, "questions that may be answered without a person (keys below)",
           default=[]),
    _agent("events", one_of(_parsers, nullable=True), "the format of the agent's standard "
           "output, read as it runs: the raw output is kept in runs/<id>/attempt-N.events.*, the "
           "pane shows a readable transcript, and an exit 0 whose output reports an error is a "
           "failure; tokens and cost show in status"),
    _agent("hooks", one_of(_hook_wirings, nullable=True), "the interactive agent's own hooks "
           "taskorch listens to (claude-code: a per-session settings file; codex-notify: codex's "
           "notify program, the user's own still run), put where the command has "
           + agent_profiles.HOOK_ARGS + ": a finished turn, an error or a question is then a fact "
           "and starts the heartbeat at once, and the screen is only the fallback"),
    _agent("max_parallel", OPT_COUNT, "agents of this profile running at once, within the "
           "top-level max_parallel (a provider's concurrency quota)", shown_default="no limit"),
    _agent("launches_per_hour", OPT_COUNT, "launches and restarts of this profile in any hour "
           "(a provider's rate quota); more wait, pending", shown_default="no limit"),
    _agent("person", BOOL, "a person, not a program (the built-in human): no program starts; "
           "the task waits in its worktree for `doit done <id>`", default=False),
)

ANSWER = _level(
    "answer",
    _answer("match", Kind(is_str, _const({"type": "string", "format": "regex"}), "regex"),
            "the question on screen (a regular expression)", required=True),
    _answer("send", STRING, "text pasted as the answer", default=""),
    _answer("keys", Kind(is_str_list, _const({"type": "array", "items": {
        "enum": list(agent_profiles.KEYS)}}), "list of key names"),
            "keys pressed after it: " + ", ".join(agent_profiles.KEYS), default=["Enter"]),
)

FIELDS: dict[str, dict[str, Field]] = {"top": TOP, "phase": PHASE, "task": TASK, "agent": AGENT,
                                       "answer": ANSWER}
TITLES = {
    "top": ("the manifest", "Top level"),
    "phase": ("a phase, an entry of phases", "Each phase (`phases: [...]`)"),
    "task": ("a task, an entry of a phase's tasks", "Each task (`tasks: [...]`)"),
    "agent": ("an agent profile, under agents", "An agent profile (`agents: {name: {...}}`)"),
    "answer": ("an answer, an entry of a profile's answers",
               "An answer (`answers: [...]` in a profile)"),
}


def fields(level: str) -> dict[str, Field]:
    return FIELDS[level]


def defaults(level: str) -> dict[str, Any]:
    """{key: default} for the keys of a level that have one."""
    return {f.name: f.default for f in FIELDS[level].values() if f.default is not None}


def required(level: str, given: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The keys a mapping of this level must have (given its other keys)."""
    return tuple(f.name for f in FIELDS[level].values()
                 if f.required and not (f.unless and given is not None and f.unless in given))


def runtime_fields() -> tuple[str, ...]:
    return tuple(f.name for f in TASK.values() if f.runtime)


# ---------------------------------------------------------------------------------------------
# JSON Schema.

_LEVEL_RULES: dict[str, dict[str, Any]] = {
    "task": {"not": {"required": ["body", "description"],
                     "description": "give either body or description, not both"}},
}


def _object(level: str) -> dict[str, Any]:
    table = FIELDS[level]
    schema: dict[str, Any] = {"type": "object", "description": TITLES[level][0],
                              "properties": {name: f.json() for name, f in table.items()},
                              "additionalProperties": False}
    always = [f.name for f in table.values() if f.required and not f.unless]
    if always:
        schema["required"] = always
    unless = [f for f in table.values() if f.required and f.unless]
    if unless:
        schema["anyOf"] = [{"required": [f.name]} for f in unless] + \
                          [{"required": [f.unless]} for f in unless]
    return {**schema, **_LEVEL_RULES.get(level, {})}


def json_schema() -> dict[str, Any]:
    """The manifest as a JSON Schema (draft 2020-12): unknown keys are rejected at every level.
    Checks that need more than one value (dependencies, cycles, branch names, prompts on disk,
    placeholders) are taskorch's alone."""
    top = _object("top")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "taskorch manifest (orchestrator.yaml)",
        **top,
        "$defs": {level: _object(level) for level in LEVELS if level != "top"},
    }


# ---------------------------------------------------------------------------------------------
# The README's reference.

BEGIN = "<!-- schema:begin (generated by python -m taskorch.schema --readme README.md) -->"
END = "<!-- schema:end -->"


def _shown(f: Field) -> str:
    if f.required:
        return "required" + (f" (unless `{f.unless}`)" if f.unless else "")
    if f.shown_default is not None:
        return f.shown_default
    if f.default is None:
        return "none"
    if f.default == "":
        return "empty"
    text = json.dumps(f.default) if not isinstance(f.default, str) else f.default
    return f"`{text}`"


def markdown() -> str:
    """The reference tables, one per level, as they stand in the README."""
    out: list[str] = []
    for level in LEVELS:
        out += [f"**{TITLES[level][1]}**", "", "| key | type | default | meaning |",
                "| --- | --- | --- | --- |"]
        for f in FIELDS[level].values():
            cells = (f"`{f.name}`", f.kind.text, _shown(f), f.help)
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def readme_block() -> str:
    return f"{BEGIN}\n\n{markdown()}\n\n{END}"


def with_reference(readme: str) -> str:
    """The README's text with its reference block replaced by the generated one."""
    start, end = readme.find("<!-- schema:begin"), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no '{BEGIN}' ... '{END}' block to fill")
    return readme[:start] + readme_block() + readme[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taskorch.schema",
                                     description="The manifest's schema.")
    parser.add_argument("--readme", metavar="FILE",
                        help="rewrite FILE's reference block from the schema")
    parser.add_argument("--check", action="store_true",
                        help="with --readme: only say whether FILE is up to date (exit 1 if not)")
    parser.add_argument("--json", action="store_true", help="print the JSON Schema")
    args = parser.parse_args(argv)
    if args.json or not args.readme:
        print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    if args.readme:
        path = Path(args.readme)
        text = path.read_text(encoding="utf-8")
        new = with_reference(text)
        if new == text:
            print(f"{path}: the reference is up to date", file=sys.stderr)
        elif args.check:
            print(f"{path}: the reference differs from the schema; run "
                  f"python -m taskorch.schema --readme {path}", file=sys.stderr)
            return 1
        else:
            path.write_text(new, encoding="utf-8")
            print(f"{path}: reference rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
