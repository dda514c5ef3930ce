"""`doit doctor`: can each agent profile the manifest uses start here, unattended?

One module per agent CLI (codex.py, claude.py, aider.py), each an `Agent` (the Protocol below),
as pre-commit's languages/ are: it checks credentials and first-run state, and repairs what is
safe and local. The program on PATH and its version (against VERIFIED, installed as INSTALL
says) are checked here, for every profile alike.

Checks never print a secret: at most its last 4 characters (`tail`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from taskorch.agents import BUILTIN, AgentProfile

OK, WARNING, PROBLEM = "ok", "warning", "problem"

# The versions taskorch is verified against (pinned in tests/realagents/install.sh): a version
# outside major.minor is a warning. Screens, flags and first-run files change between releases.
VERIFIED = {"codex": "0.171.0", "claude": "2.1.332", "aider": "0.86.2"}
VERSION_TIMEOUT = 60  # seconds; aider imports litellm first (about 1 s)


@dataclass(frozen=True)
class Check:
    """One line of the report: a profile's check, its level, what was found and the fix."""

    profile: str
    check: str
    level: str
    message: str
    fix: str = ""
    fixable: bool = False  # `doit doctor --fix` repairs it
    agent: str = ""

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix and self.level != OK else ""
        return f"{self.level:<8} {self.profile}: {self.check}: {self.message}{fix}"

    def as_dict(self) -> dict[str, object]:
        return {"profile": self.profile, "agent": self.agent, "check": self.check,
                "level": self.level, "message": self.message, "fix": self.fix,
                "fixable": self.fixable}


@dataclass
class Context:
    """What one profile's checks look at: the agent's environment (doit's own plus the
    profile's `env`, as the wrapper gives it) and the project's clone."""

    profile: AgentProfile
    clone: Path
    env: dict[str, str] = field(default_factory=dict)

    def var(self, name: str) -> str:
        """An environment variable as the agent sees it; empty means unset."""
        return self.env.get(name, "")

    @property
    def home(self) -> Path:
        return Path(self.var("HOME") or Path.home())

    def check(self, check: str, level: str, message: str, fix: str = "",
              fixable: bool = False) -> Check:
        return Check(self.profile.name, check, level, message, fix, fixable)


class Agent(Protocol):
    """One agent CLI's checks."""

    name: str  # the key of VERIFIED and INSTALL, and the program's name

    def checks(self, ctx: Context) -> list[Check]:
        """Credentials and first-run state, one Check each."""
        ...

    def fix(self, ctx: Context) -> list[str]:
        """Repair what is safe and local; say what changed, one line each."""
        ...


def agents() -> dict[str, Agent]:
    from taskorch.doctor import aider, claude, codex
    return {"codex": codex.AGENT, "claude": claude.AGENT, "aider": aider.AGENT}


INSTALL = {"codex": f"npm install -g @openai/codex@{VERIFIED['codex']}",
           "claude": f"npm install -g @anthropic-ai/claude-code@{VERIFIED['claude']}",
           "aider": f"python -m pip install aider-chat=={VERIFIED['aider']}"}


def kind(profile: AgentProfile, extends: str | None = None) -> str | None:
    """Which agent CLI a profile runs: its program's name, else that of the built-in it
    extends (a user profile that extends `claude` is a claude)."""
    for command in (profile.command, BUILTIN[extends].command if extends in BUILTIN else ()):
        if command and Path(command[0]).name in VERIFIED:
            return Path(command[0]).name
    return None


def agent_env(profile: AgentProfile, base: dict[str, str] | None = None) -> dict[str, str]:
    return {**(os.environ if base is None else base), **profile.env}


def which(profile: AgentProfile, env: dict[str, str] | None = None) -> str | None:
    """Where the profile's program is, on the PATH the agent gets."""
    env = agent_env(profile) if env is None else env
    return shutil.which(profile.command[0], path=env.get("PATH", os.defpath))


def missing_program(profile: AgentProfile, extends: str | None = None) -> str | None:
    """The one-line reason a profile cannot start, when its program is not there; None when it
    is. Cheap (a PATH lookup): `doit launch` asks it before spending an attempt."""
    if which(profile) is not None:
        return None
    return (f"agent program '{profile.command[0]}' of profile {profile.name} is not on PATH; "
            f"{install_fix(profile, extends)}")


def cannot_start(profile: AgentProfile, extends: str | None = None) -> str | None:
    """The one-line reason an agent would fail before doing anything, every attempt alike:
    its program is missing, or it refuses to run here. Cheap: `doit launch` asks it before
    an attempt is spent."""
    if profile.person:
        return None  # a person is no program
    return missing_program(profile, extends) or root_refusal(profile, extends)


def root_refusal(profile: AgentProfile, extends: str | None = None) -> str | None:
    """Claude Code 2.1.332 exits 1 at once when run as root with --dangerously-skip-permissions,
    unless IS_SANDBOX is exactly "1" (or it runs in its bubblewrap sandbox)."""
    env = agent_env(profile)
    if kind(profile, extends) != "claude" or "--dangerously-skip-permissions" not in \
            profile.command or os.geteuid() != 0 or env.get("IS_SANDBOX") == "1" or \
            env.get("CLAUDE_CODE_BUBBLEWRAP"):
        return None
    return (f"profile {profile.name}: claude refuses --dangerously-skip-permissions as root "
            f"unless IS_SANDBOX=1; in a sandbox or container, export IS_SANDBOX=1 or give the "
            f"profile env IS_SANDBOX: \"1\", otherwise run doit as a normal user")


def install_fix(profile: AgentProfile, extends: str | None = None) -> str:
    name = kind(profile, extends)
    how = f"install it ({INSTALL[name]})" if name else "install it"
    return (f"{how}, add its directory to PATH, or change the profile's command; "
            f"`doit doctor` checks every profile")


def tail(secret: str) -> str:
    """What may be shown of a secret: its last 4 characters, only when it is long enough that
    they give nothing away."""
    return f"…{secret[-4:]}" if len(secret) >= 12 else "(set)"


def version_of(program: str, env: dict[str, str]) -> tuple[str | None, str]:
    """(`x.y.z` or None, the text `program --version` printed, or why it could not run)."""
    try:
        done = subprocess.run([program, "--version"], capture_output=True, text=True, env=env,
                              timeout=VERSION_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"`{Path(program).name} --version` failed: {exc}"
    text = (done.stdout.strip() or done.stderr.strip()).splitlines()
    said = text[-1][:120] if text else f"exit {done.returncode}, no output"
    found = re.search(r"\b(\d+)\.(\d+)\.(\d+)\b", done.stdout + "\n" + done.stderr)
    return (found.group(0) if found else None), said


def program_check(ctx: Context, name: str | None, extends: str | None = None) -> Check:
    """The program on PATH, and for a known agent CLI its version against VERIFIED."""
    profile = ctx.profile
    found = which(profile, ctx.env)
    if found is None:
        return ctx.check("program", PROBLEM, f"'{profile.command[0]}' is not on PATH",
                         install_fix(profile, extends))
    if name is None or Path(profile.command[0]).name != name:
        return ctx.check("program", OK, f"{found} (version not checked: not a CLI taskorch "
                                        f"verifies)" if name is None else
                         f"{found} (a wrapper of {name}: version not checked)")
    version, said = version_of(found, ctx.env)
    verified = VERIFIED[name]
    line = f"{verified.rsplit('.', 1)[0]}.x"
    if version is None:
        return ctx.check("program", WARNING, f"{found}: no version in its answer ({said})",
                         f"check `{name} --version`; taskorch is verified with {verified}")
    if version.split(".")[:2] != verified.split(".")[:2]:
        return ctx.check("program", WARNING, f"{found}, version {version}, outside the verified "
                         f"{line}: its screens and first-run files may differ",
                         f"install the verified version: {INSTALL[name]}")
    return ctx.check("program", OK, f"{found}, version {version} (verified {line})")


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    fixed: list[str]

    @property
    def ok(self) -> bool:
        return not any(c.level == PROBLEM for c in self.checks)

    def summary(self) -> str:
        count = {level: sum(c.level == level for c in self.checks)
                 for level in (OK, WARNING, PROBLEM)}
        text = (f"doctor: {count[OK]} ok, {count[WARNING]} warning"
                f"{'s' * (count[WARNING] != 1)}, {count[PROBLEM]} problem"
                f"{'s' * (count[PROBLEM] != 1)}")
        fixable = sum(c.fixable and c.level != OK for c in self.checks)
        if fixable:
            text += f"; `doit doctor --fix` repairs {fixable} of them"
        return text


def used_profiles(manifest) -> list[str]:  # type: ignore[no-untyped-def]
    """The profile names the manifest's tasks use, the top-level `agent:` first (when a task
    uses it, or no task is there to use another)."""
    names = [task.agent for task in manifest.tasks if task.agent]
    if len(names) < len(manifest.tasks) or not manifest.tasks:
        names.insert(0, manifest.agent)
    return list(dict.fromkeys(names))


def extends_of(manifest) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each user profile's `extends`, read from the manifest's text (AgentProfile keeps only
    the merged result)."""
    from taskorch.yamlsource import display_name, parse
    try:
        data = parse(manifest.path.read_text(encoding="utf-8"), display_name(manifest.path)).data
    except (OSError, UnicodeDecodeError):
        return {}
    raw = data.get("agents") if isinstance(data, dict) else None
    return {name: spec["extends"] for name, spec in (raw or {}).items()
            if isinstance(spec, dict) and isinstance(spec.get("extends"), str)}


def examine(manifest, clone: Path, fix: bool = False,  # type: ignore[no-untyped-def]
            base_env: dict[str, str] | None = None) -> Report:
    """Every check of every profile the manifest uses; with `fix`, repair first, then check."""
    extends = extends_of(manifest)
    known = agents()
    checks: list[Check] = []
    fixed: list[str] = []
    for name in used_profiles(manifest):
        profile = manifest.agents.get(name) or BUILTIN[name]
        if profile.person:
            continue  # a person needs no program, credentials or first-run state
        ctx = Context(profile, clone, agent_env(profile, base_env))
        agent_name = kind(profile, extends.get(name))
        agent = known.get(agent_name) if agent_name else None
        if fix and agent is not None:
            fixed += [f"{name}: {change}" for change in agent.fix(ctx)]
        found = [program_check(ctx, agent_name, extends.get(name))]
        if agent is not None:
            found += agent.checks(ctx)
        checks += [Check(c.profile, c.check, c.level, c.message, c.fix, c.fixable,
                         agent_name or "") for c in found]
    return Report(checks, fixed)
