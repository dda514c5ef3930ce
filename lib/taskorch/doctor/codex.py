"""codex: credentials, and trust for the project's clone in CODEX_HOME/config.toml.

Measured with 0.171.0 (tests/realagents/README.md): a custom model is `model_provider = "x"`
with `[model_providers.x]` naming the variable of its key (`env_key`); otherwise codex uses a
login (CODEX_HOME/auth.json) or OPENAI_API_KEY. The interactive CLI asks `Trust this folder?`
unless `[projects."<clone>"] trust_level = "trusted"`; trusting the clone covers its worktrees.
CODEX_HOME defaults to ~/.codex.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskorch.doctor import OK, PROBLEM, WARNING, Check, Context, tail
from taskorch.doctor.files import (Unreadable, append_toml, read_toml, shown_path, table,
                                   toml_key)


class Codex:
    name = "codex"

    @staticmethod
    def home(ctx: Context) -> Path:
        return Path(ctx.var("CODEX_HOME") or ctx.home / ".codex")

    def config_file(self, ctx: Context) -> Path:
        return self.home(ctx) / "config.toml"

    def checks(self, ctx: Context) -> list[Check]:
        path = self.config_file(ctx)
        try:
            config = (read_toml(path) or ({}, ""))[0]
        except Unreadable as exc:
            return [ctx.check("config", PROBLEM, str(exc), f"repair {path}")]
        return [self.credentials(ctx, config), self.trust(ctx, config)]

    def credentials(self, ctx: Context, config: dict[str, Any]) -> Check:
        shown = shown_path(self.config_file(ctx), ctx.home)
        provider = config.get("model_provider")
        custom = (table(config.get("model_providers")).get(provider)
                  if isinstance(provider, str) else None)
        if isinstance(provider, str) and isinstance(custom, dict):
            env_key = custom.get("env_key")
            if not isinstance(env_key, str) or not env_key:
                return ctx.check("credentials", OK, f"{shown}: model_provider {provider} "
                                                    f"names no env_key (needs no key)")
            if ctx.var(env_key):
                return ctx.check("credentials", OK, f"{shown}: model_provider {provider}, "
                                                    f"{env_key} is set ({tail(ctx.var(env_key))})")
            return ctx.check("credentials", PROBLEM,
                             f"{shown}: model_provider {provider} takes its key from {env_key}, "
                             f"which is not set", f"export {env_key}=… where doit runs "
                             f"(or in the profile's env)")
        if isinstance(provider, str) and provider != "openai":
            return ctx.check("credentials", OK, f"{shown}: codex's own provider {provider} "
                                                f"(its key is not checked)")
        auth = self.home(ctx) / "auth.json"
        if auth.is_file():
            return ctx.check("credentials", OK, f"{shown_path(auth, ctx.home)} (a login)")
        if ctx.var("OPENAI_API_KEY"):
            return ctx.check("credentials", OK,
                             f"OPENAI_API_KEY is set ({tail(ctx.var('OPENAI_API_KEY'))})")
        return ctx.check("credentials", PROBLEM,
                         f"no {shown_path(auth, ctx.home)}, OPENAI_API_KEY or model_provider "
                         f"with an env_key in {shown}",
                         "run `codex login`, or export OPENAI_API_KEY=… where doit runs")

    def trust(self, ctx: Context, config: dict[str, Any]) -> Check:
        shown = shown_path(self.config_file(ctx), ctx.home)
        projects = table(config.get("projects"))
        entry = projects.get(str(ctx.clone))
        level = entry.get("trust_level") if isinstance(entry, dict) else None
        if level == "trusted":
            return ctx.check("trust", OK, f"{shown}: the clone {ctx.clone} is trusted "
                                          f"(its worktrees too)")
        header = f"[projects.{toml_key(str(ctx.clone))}]"
        if level is not None:
            return ctx.check("trust", PROBLEM,
                             f"{shown}: the clone {ctx.clone} has trust_level = {level!r}",
                             f"set trust_level = \"trusted\" under {header} by hand (doctor "
                             f"leaves a choice you made)")
        # Only the interactive CLI asks; `codex exec` goes on, so there it is a warning.
        return ctx.check("trust", PROBLEM if ctx.profile.interactive else WARNING,
                         f"{shown}: no trust for the clone {ctx.clone} (codex would ask "
                         f"`Trust this folder?`)",
                         f"`doit doctor --fix` appends {header} trust_level = \"trusted\"",
                         fixable=True)

    def fix(self, ctx: Context) -> list[str]:
        path = self.config_file(ctx)
        try:
            config, text = read_toml(path) or ({}, "")
        except Unreadable:
            return []
        projects = table(config.get("projects"))
        entry = projects.get(str(ctx.clone))
        if isinstance(entry, dict) and "trust_level" in entry:
            return []  # trusted already, or a choice of the user's (the check says which)
        header = f"[projects.{toml_key(str(ctx.clone))}]"
        try:
            append_toml(path, text, f"# Added by `doit doctor --fix` (taskorch): trust the "
                                    f"project's clone and its worktrees.\n{header}\n"
                                    f"trust_level = \"trusted\"\n")
        except Unreadable as exc:
            return [f"not changed: {exc}; add {header} trust_level = \"trusted\" by hand"]
        return [f"{shown_path(path, ctx.home)}: trusted the clone {ctx.clone}"]


AGENT = Codex()
