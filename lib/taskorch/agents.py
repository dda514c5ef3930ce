"""Agent profiles: how to start an agent, and how its screen looks when it waits, idles or fails.

A profile is data, not code: an argv template plus screen patterns. Placeholders are replaced as
whole tokens inside argv elements (never with str.format, which could reach attributes), and the
prompt text itself is only substituted by the wrapper, after tmux has started it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDERS = ("{prompt}", "{prompt_file}", "{model}", "{task_id}", "{worktree}")
# Key names an answer may press after its text; fixed here, never taken from agent output.
KEYS = ("Enter", "Escape", "Tab", "Up", "Down", "Left", "Right", "Space", "BSpace")


@dataclass(frozen=True)
class Answer:
    """A question an agent may be answered without a person: `match` on screen -> send, keys."""

    match: str
    send: str = ""
    keys: tuple[str, ...] = ("Enter",)


MODEL_ARGS = "{model_args}"
# Where the argv that wires the agent's own hooks goes (hooks/): a profile with `hooks:` has it.
HOOK_ARGS = "{hook_args}"


@dataclass(frozen=True)
class AgentProfile:
    name: str
    command: tuple[str, ...]
    model_args: tuple[str, ...] = ()
    stdin: bool = False
    interactive: bool = False
    waiting: tuple[str, ...] = ()
    idle: tuple[str, ...] = ()
    error: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()  # on screen while it works: vetoes idle (screen.py, classify.py)
    env: dict[str, str] = field(default_factory=dict)
    answers: tuple[Answer, ...] = ()
    events: str | None = None  # a parser in taskorch.signals: the agent's output is read
    hooks: str | None = None   # a wiring in taskorch.hooks: the agent's own hooks are heard
    max_parallel: int | None = None       # of this profile at once (budget.py)
    launches_per_hour: int | None = None  # of this profile in a sliding hour (budget.py)
    person: bool = False  # `human`: no program; a person works and says `doit done <id>`

    def argv(self, *, prompt_file: str, model: str | None, task_id: str, worktree: str,
             hook_args: list[str] | None = None) -> list[str]:
        """The argv with every placeholder but {prompt} filled in (the wrapper fills that one).
        `hook_args` are taskorch's own paths, put in as they are."""
        values = {"{prompt_file}": prompt_file, "{model}": model or "", "{task_id}": task_id,
                  "{worktree}": worktree}
        out: list[str] = []
        for element in self.command:
            if element == MODEL_ARGS:
                out.extend(_fill(e, values) for e in (self.model_args if model else ()))
            elif element == HOOK_ARGS:
                out.extend(hook_args or ())
            else:
                out.append(_fill(element, values))
        return out


def _fill(element: str, values: dict[str, str]) -> str:
    for token, value in values.items():
        element = element.replace(token, value)
    return element


def _python(module: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module)


# Screen patterns are regexes matched (case-insensitively, multi-line) against the captured
# screen. Sources for the texts are in docs/agents.md.
BUILTIN: dict[str, AgentProfile] = {
    profile.name: profile
    for profile in (
        AgentProfile(
            # --no-daemon: codex 0.171 runs turns in a background daemon (`codex app-server`)
            # that outlives the session; this keeps the turn in the TUI's own process, so
            # stopping the session stops the turn (DESIGN.md, "Real agent CLIs").
            name="codex",
            command=("codex", HOOK_ARGS, "--no-daemon",
                     "--dangerously-bypass-approvals-and-sandbox", MODEL_ARGS, "{prompt}"),
            model_args=("--model", "{model}"),
            interactive=True,
            hooks="codex-notify",  # a finished turn is a fact; errors and questions: the screen
            # Judged from the prompt at the bottom only (screen.bottom). 0.171's trust dialog is
            # `Trust this folder? …` / `› 1. Trust and continue` / `enter continue · esc back`;
            # older ones `Do you trust the contents of this directory` / `Press enter to …`.
            waiting=(r"Trust this folder\?", r"^\s*enter continue\b.*\besc back",
                     r"Do you trust the contents of this directory", r"Update available!",
                     r"Would you like to run the following command",
                     r"Press enter to (continue|confirm)"),
            # The composer (`› Ask Codex to do anything`) is on screen at startup, while working
            # and when done: only a finished turn (`Worked for 1s • 06:03`) or an error cell
            # (`■ …`) says the turn is over, and only with no busy line on the screen.
            idle=(r"^\s*Worked for <?\d", r"^\s*■ "),
            busy=(r"esc to interrupt", r"^\s*[•◦]\s+Working\b", r"^\s*[•◦]\s+Reconnecting\.\.\."),
            # Read on the whole screen when idle: the TUI puts every error in a `■` cell
            # (`■ exceeded retry limit, last status: 429 …`, `■ We're currently experiencing
            # high demand …`). Unanchored words would match a diff or the model's own prose.
            error=(r"^\s*■ (?!Conversation interrupted)",),
            # Safe to answer without a person: trust the task's own worktree (Enter on
            # `1. Trust and continue`; older builds: `1`), skip an update.
            answers=(Answer(r"1\. Trust and continue", "", ("Enter",)),
                     Answer(r"Do you trust the contents of this directory", "1"),
                     Answer(r"Update available!", "2")),
        ),
        AgentProfile(
            name="codex-exec",
            command=("codex", "exec", "--json", "--dangerously-bypass-approvals-and-sandbox",
                     "--skip-git-repo-check", MODEL_ARGS, "-"),
            model_args=("--model", "{model}"),
            stdin=True,  # `-`: codex exec also waits on stdin when given the prompt in argv
            events="codex-json",
            error=(r"You've hit your usage limit", r"stream disconnected before completion",
                   r"401 Unauthorized", r"Quota exceeded", r"No prompt provided"),
        ),
        AgentProfile(
            name="claude",
            command=("claude", HOOK_ARGS, "--dangerously-skip-permissions", MODEL_ARGS,
                     "{prompt}"),
            model_args=("--model", "{model}"),
            interactive=True,
            hooks="claude-code",  # turn ended, failed, asked, working: all facts
            # Every dialog of 2.1.332 ends in a footer: `Enter to confirm · Esc to cancel` (trust,
            # bypass warning, API key), `Enter to select · ↑/↓ to navigate · Esc to cancel`
            # (AskUserQuestion).
            # The dialog's own question first, so the reason names it, not the footer:
            # 2.1.332's trust dialog asks `Is this a project you created or one you trust?`.
            waiting=(r"Is this a project you created or one you trust\?",
                     r"Yes, I trust this folder", r"Do you trust the files in this folder",
                     r"Enter to (confirm|select)\b", r"↑/↓ to navigate",
                     r"Do you want to (proceed|make this edit|create)",
                     r"Select login method:"),
            # The `❯` input box is always on screen: only a finished turn (`✻ Cogitated for 1s ·
            # done 6:05 AM`) or a given-up one (`❯ Resend your message to try again`) is idle.
            idle=(r"^\s*[✻✽✶✳✢·*]\s+\w+ed for <?\d", r"^❯\s*Resend your message"),
            # While working: `✽ Smooshing… (0s · ↓ 12 tokens)` above the box, `esc to interrupt`
            # in the footer; while retrying: `✻ 500 Internal server error · retrying in 4s`.
            busy=(r"esc to interrupt", r"^\s*[✻✽✶✳✢·*]\s+\w+…", r"retrying in \d+"),
            error=(r"^\s*[●⎿]\s+API Error", r"^\s*[●⎿]\s+.*(session limit|usage limit reached|"
                   r"Credit balance is too low|Please run /login)",
                   r"cannot be used with root/sudo privileges"),
        ),
        AgentProfile(
            # Headless: the prompt on stdin (no argv limit), events on stdout. As root, claude
            # refuses --dangerously-skip-permissions unless IS_SANDBOX=1: that says the machine
            # is a sandbox, which only its owner can say, so taskorch never sets it (README).
            name="claude-p",
            command=("claude", "-p", "--output-format", "stream-json", "--verbose",
                     "--dangerously-skip-permissions", MODEL_ARGS),
            model_args=("--model", "{model}"),
            stdin=True,
            events="claude-stream-json",
            error=(r"API Error", r"Credit balance is too low", r"Invalid API key",
                   r"cannot be used with root/sudo privileges"),
        ),
        AgentProfile(
            name="aider",
            # --no-gitignore: a .gitignore edit is not the task's work. --no-analytics is for
            # this run only (--analytics-disable would change the user's aider config for good).
            # --no-detect-urls: with --yes-always, a URL in a retry prompt's excerpt was
            # "added to the chat", which ran `playwright install --with-deps` (apt-get, as root).
            # --no-show-release-notes: --yes-always would open them on a version's first run.
            command=("aider", "--yes-always", "--no-show-model-warnings", "--no-check-update",
                     "--no-analytics", "--no-gitignore", "--no-pretty", "--no-detect-urls",
                     "--no-show-release-notes", MODEL_ARGS,
                     "--message-file", "{prompt_file}"),
            model_args=("--model", "{model}"),
            events="aider-text",
            waiting=(r"\(Y\)es/\(N\)o.*\[(Yes|No)\]:\s*$",),
            idle=(r"^(\w+)?> $",),
            error=(r"rate limited you", r"not able to authenticate you", r"servers are down"),
        ),
        AgentProfile(
            name="demo",
            command=_python("taskorch.demo_agent") + ("{prompt_file}",),
            error=(r"^demo-agent: error",),
        ),
        # A task for a person (issue 13): taskorch makes its worktree and branch and waits;
        # `doit done <id>` says the person is finished, then verify and delivery run as usual.
        AgentProfile(name="human", command=(), person=True),
    )
}


def unknown_placeholders(element: str) -> list[str]:
    """Every `{word}` in an argv element that is not a placeholder taskorch fills."""
    return [m for m in re.findall(r"\{[A-Za-z_-]+\}", element)
            if m not in PLACEHOLDERS and m not in (MODEL_ARGS, HOOK_ARGS)]


def profile_from_manifest(name: str, raw: dict[str, Any]) -> AgentProfile:
    """Build a user profile from an already validated `agents.<name>` mapping: its keys, else
    those of the built-in it extends, else the schema's defaults (schema.AGENT, schema.ANSWER)."""
    from taskorch import schema  # imported here: schema.py reads KEYS and BUILTIN from this module

    keys = [key for key in schema.AGENT if key != "extends"]
    base = BUILTIN.get(raw.get("extends", ""), None)
    inherited = {} if base is None else {key: getattr(base, key) for key in keys}
    merged = {**schema.defaults("agent"), **inherited,
              **{k: v for k, v in raw.items() if k != "extends"}}
    if "command" in raw and "hooks" not in raw and HOOK_ARGS not in merged["command"]:
        merged["hooks"] = None  # a built-in's hooks belong to its command, not to this one
    answer = schema.defaults("answer")
    return AgentProfile(
        name=name,
        command=tuple(merged["command"]),
        model_args=tuple(merged["model_args"]),
        stdin=bool(merged["stdin"]),
        interactive=bool(merged["interactive"]),
        waiting=tuple(merged["waiting"]),
        idle=tuple(merged["idle"]),
        error=tuple(merged["error"]),
        busy=tuple(merged["busy"]),
        env=dict(merged["env"]),
        answers=tuple(a if isinstance(a, Answer) else
                      Answer(a["match"], a.get("send", answer["send"]),
                             tuple(a.get("keys", answer["keys"])))
                      for a in merged["answers"]),
        events=merged.get("events"),
        hooks=merged.get("hooks"),
        max_parallel=merged.get("max_parallel"),
        launches_per_hour=merged.get("launches_per_hour"),
        person=bool(merged.get("person")),
    )
