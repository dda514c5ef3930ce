"""Claude Code: credentials, and the first-run state that otherwise stops an unattended start.

Measured with 2.1.332 (tests/realagents/README.md, ../shared/DESIGN.md): `~/.claude.json`
holds `hasCompletedOnboarding` (without it onboarding checks connectivity to Anthropic's own
host and exits 1), `customApiKeyResponses.approved` (the last 20 characters of an
ANTHROPIC_API_KEY it may use without asking) and `projects["<path>"].hasTrustDialogAccepted`
(trusting the clone covers its worktrees; a parent folder does not). `~/.claude/settings.json`
holds `skipDangerousModePermissionPrompt`. As root, `--dangerously-skip-permissions` is refused
unless IS_SANDBOX=1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from taskorch.doctor import OK, PROBLEM, WARNING, Check, Context, tail
from taskorch.doctor.files import Unreadable, entries, read_json, shown_path, table, write_json

BYPASS = "--dangerously-skip-permissions"
KEY_SUFFIX = 20  # characters of the key claude stores as approved


class Claude:
    name = "claude"

    @staticmethod
    def state_file(ctx: Context) -> Path:
        return ctx.home / ".claude.json"

    @staticmethod
    def settings_file(ctx: Context) -> Path:
        return ctx.home / ".claude" / "settings.json"

    def checks(self, ctx: Context) -> list[Check]:
        out = [self.credentials(ctx)]
        state_file = self.state_file(ctx)
        shown = shown_path(state_file, ctx.home)
        try:
            state = read_json(state_file)
        except Unreadable as exc:
            out.append(ctx.check("first run", PROBLEM, str(exc),
                                 f"repair {shown} or move it aside (claude writes a new one)"))
            state = None
        else:
            state = state or {}
            out += [self.onboarding(ctx, state, shown), *self.key_approval(ctx, state, shown),
                    self.trust(ctx, state, shown)]
        if BYPASS in ctx.profile.command:
            out += [self.bypass_prompt(ctx), self.root(ctx)]
        return out

    def credentials(self, ctx: Context) -> Check:
        key = ctx.var("ANTHROPIC_API_KEY")
        login = ctx.home / ".claude" / ".credentials.json"
        if key:
            return ctx.check("credentials", OK, f"ANTHROPIC_API_KEY is set ({tail(key)})")
        if login.is_file():
            return ctx.check("credentials", OK, f"{shown_path(login, ctx.home)} (a login)")
        token = ctx.var("ANTHROPIC_AUTH_TOKEN")
        if token:
            return ctx.check("credentials", OK, f"ANTHROPIC_AUTH_TOKEN is set ({tail(token)})")
        return ctx.check("credentials", PROBLEM,
                         "no ANTHROPIC_API_KEY, ~/.claude/.credentials.json or "
                         "ANTHROPIC_AUTH_TOKEN",
                         "export ANTHROPIC_API_KEY=… where doit runs (or in the profile's env), "
                         "or run `claude` once and log in")

    def onboarding(self, ctx: Context, state: dict[str, Any], shown: str) -> Check:
        if state.get("hasCompletedOnboarding") is True:
            return ctx.check("onboarding", OK, f"{shown}: hasCompletedOnboarding")
        return ctx.check("onboarding", PROBLEM,
                         f"{shown} lacks \"hasCompletedOnboarding\": true (claude would run its "
                         f"setup and exit)", "`doit doctor --fix` sets it", fixable=True)

    def key_approval(self, ctx: Context, state: dict[str, Any], shown: str) -> list[Check]:
        key = ctx.var("ANTHROPIC_API_KEY")
        if not key:
            return []
        suffix = key[-KEY_SUFFIX:]
        responses = table(state.get("customApiKeyResponses"))
        approved, rejected = entries(responses.get("approved")), entries(responses.get("rejected"))
        if suffix in approved and suffix not in rejected:
            return [ctx.check("api key", OK, f"{shown}: the key {tail(key)} is approved")]
        why = "was rejected" if suffix in rejected else "is not approved"
        return [ctx.check("api key", PROBLEM,
                          f"{shown}: ANTHROPIC_API_KEY {tail(key)} {why} (claude would ask "
                          f"whether to use it)",
                          "`doit doctor --fix` approves it (its last 20 characters in "
                          "customApiKeyResponses.approved)", fixable=True)]

    def trust(self, ctx: Context, state: dict[str, Any], shown: str) -> Check:
        projects = table(state.get("projects"))
        entry = projects.get(str(ctx.clone))
        if isinstance(entry, dict) and entry.get("hasTrustDialogAccepted") is True:
            return ctx.check("trust", OK, f"{shown}: the clone {ctx.clone} is trusted "
                                          f"(its worktrees too)")
        parents = [p for p, e in projects.items() if isinstance(e, dict)
                   and e.get("hasTrustDialogAccepted") is True and
                   ctx.clone.is_relative_to(p) and Path(p) != ctx.clone]
        note = f"; {parents[0]} is trusted, but a parent folder does not count" if parents else ""
        # `claude -p` does not ask (it runs trusting the folder), so there it is a warning.
        headless = any(arg in ("-p", "--print") for arg in ctx.profile.command)
        return ctx.check("trust", WARNING if headless else PROBLEM,
                         f"{shown}: the clone {ctx.clone} is not trusted "
                         f"(claude would ask in every worktree){note}",
                         f"`doit doctor --fix` sets projects[\"{ctx.clone}\"]"
                         f".hasTrustDialogAccepted", fixable=True)

    def bypass_prompt(self, ctx: Context) -> Check:
        path = self.settings_file(ctx)
        shown = shown_path(path, ctx.home)
        try:
            settings = read_json(path) or {}
        except Unreadable as exc:
            return ctx.check("bypass prompt", PROBLEM, str(exc), f"repair {shown}")
        if settings.get("skipDangerousModePermissionPrompt") is True:
            return ctx.check("bypass prompt", OK, f"{shown}: skipDangerousModePermissionPrompt")
        return ctx.check("bypass prompt", PROBLEM,
                         f"{shown} lacks \"skipDangerousModePermissionPrompt\": true (claude "
                         f"would ask to confirm {BYPASS})",
                         "`doit doctor --fix` sets it", fixable=True)

    def root(self, ctx: Context) -> Check:
        if os.geteuid() != 0:
            return ctx.check("root", OK, "not running as root")
        if ctx.var("IS_SANDBOX") == "1":
            return ctx.check("root", OK, "root, with IS_SANDBOX=1")
        return ctx.check("root", PROBLEM,
                         f"running as root without IS_SANDBOX=1: claude refuses {BYPASS}",
                         f"in a sandbox or container, give the profile env IS_SANDBOX: \"1\" "
                         f"(agents: {{{ctx.profile.name}: {{extends: claude, env: {{IS_SANDBOX: "
                         f"\"1\"}}}}}}); otherwise run doit as a normal user")

    def fix(self, ctx: Context) -> list[str]:
        changed = self.fix_state(ctx)
        if BYPASS in ctx.profile.command:
            changed += self.fix_settings(ctx)
        return changed

    def fix_state(self, ctx: Context) -> list[str]:
        """Onboarding, the key's approval and trust for the clone, merged into ~/.claude.json."""
        path = self.state_file(ctx)
        shown = shown_path(path, ctx.home)
        try:
            data = dict(read_json(path) or {})
        except Unreadable:
            return []  # the check says so; never write over what cannot be read
        changed = []
        if data.get("hasCompletedOnboarding") is not True:
            data["hasCompletedOnboarding"] = True
            changed.append(f"{shown}: set hasCompletedOnboarding")
        key = ctx.var("ANTHROPIC_API_KEY")
        if key:
            changed += approve(data, key[-KEY_SUFFIX:], f"{shown}: approved the key {tail(key)}")
        projects = data["projects"] = dict(table(data.get("projects")))
        entry = table(projects.get(str(ctx.clone)))
        if entry.get("hasTrustDialogAccepted") is not True:
            projects[str(ctx.clone)] = {**entry, "hasTrustDialogAccepted": True}
            changed.append(f"{shown}: trusted the clone {ctx.clone}")
        if changed:
            write_json(path, data)
        return changed

    def fix_settings(self, ctx: Context) -> list[str]:
        path = self.settings_file(ctx)
        try:
            settings = read_json(path) or {}
        except Unreadable:
            return []
        if settings.get("skipDangerousModePermissionPrompt") is True:
            return []
        write_json(path, {**settings, "skipDangerousModePermissionPrompt": True})
        return [f"{shown_path(path, ctx.home)}: set skipDangerousModePermissionPrompt"]


def approve(data: dict[str, Any], suffix: str, said: str) -> list[str]:
    """Put the key's suffix in `approved` (and out of `rejected`); every other entry stays."""
    responses = dict(table(data.get("customApiKeyResponses")))
    approved = list(entries(responses.get("approved")))
    rejected = list(entries(responses.get("rejected")))
    if suffix in approved and suffix not in rejected:
        return []
    if suffix not in approved:
        approved.append(suffix)
    if suffix in rejected:
        rejected = [r for r in rejected if r != suffix]
        said += " (it was rejected before)"
    data["customApiKeyResponses"] = {**responses, "approved": approved, "rejected": rejected}
    return [said]


AGENT = Claude()
