"""aider: credentials only; it has no first-run dialog that stops an unattended run.

Measured with 0.86.2 (tests/realagents/README.md): an OpenAI-compatible server is
`--openai-api-base` (or OPENAI_API_BASE) with OPENAI_API_KEY; Anthropic's API takes
ANTHROPIC_API_KEY. aider reaches many more providers (each with its own variable, or
.aider.conf.yml and .env files), so finding none of these is a warning, not a problem.
"""

from __future__ import annotations

from taskorch.doctor import OK, WARNING, Check, Context, tail

KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
KEY_FLAGS = ("--openai-api-key", "--anthropic-api-key", "--api-key")


class Aider:
    name = "aider"

    def checks(self, ctx: Context) -> list[Check]:
        return [self.credentials(ctx)]

    def credentials(self, ctx: Context) -> Check:
        command = ctx.profile.command
        for key in KEYS:
            if ctx.var(key):
                return ctx.check("credentials", OK, f"{key} is set ({tail(ctx.var(key))})")
        flags = [a.split("=", 1)[0] for a in command if a.split("=", 1)[0] in KEY_FLAGS]
        if flags:
            return ctx.check("credentials", OK, f"the profile's command passes {flags[0]}")
        if any(a.split("=", 1)[0] == "--openai-api-base" for a in command):
            return ctx.check("credentials", OK, "the profile's command passes --openai-api-base")
        if ctx.var("OPENAI_API_BASE"):
            return ctx.check("credentials", OK, "OPENAI_API_BASE is set")
        return ctx.check("credentials", WARNING,
                         "no OPENAI_API_KEY, ANTHROPIC_API_KEY, --openai-api-base or "
                         "OPENAI_API_BASE (other providers' keys are not checked)",
                         "export OPENAI_API_KEY=… or ANTHROPIC_API_KEY=… where doit runs (or "
                         "in the profile's env), or the key your --model's provider needs")

    def fix(self, ctx: Context) -> list[str]:
        return []  # credentials are never created or changed


AGENT = Aider()
