"""A private home for the real agent CLIs: each CLI's first-run state done, pointed at the
scripted model server, with quick retries. Shared by tests/test_real_agents.py and
bench/agent_latency.py; nothing here reads or touches the user's own agent setup.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

KEY = "sk-scripted-0000000000000000000000000000000key7"  # every CLI sends it; the server ignores it


def prepare_home(home: Path, clone: str, url: str) -> dict[str, str]:
    """Write the first-run files under `home` (the clone at `clone` trusted) and return the
    environment the agents need: HOME, CODEX_HOME, the model's URL and key, quick retries."""
    codex_home = home / ".codex"
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    codex_home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text("[user]\n\tname = agent\n\temail = agent@agent.invalid\n")
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
        "projects": {clone: {"hasTrustDialogAccepted": True}}}))
    (home / ".claude" / "settings.json").write_text(
        json.dumps({"skipDangerousModePermissionPrompt": True}))
    (codex_home / "config.toml").write_text(
        'model = "scripted-model"\nmodel_provider = "scripted"\n'
        "check_for_update_on_startup = false\n\n"
        "[model_providers.scripted]\n"
        f'name = "scripted"\nbase_url = "{url}/v1"\nwire_api = "responses"\n'
        'env_key = "SCRIPTED_API_KEY"\nrequest_max_retries = 0\nstream_max_retries = 0\n\n'
        f'[projects."{clone}"]\ntrust_level = "trusted"\n')
    env = dict(
        HOME=str(home), CODEX_HOME=str(codex_home), XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"), SCRIPTED_API_KEY=KEY,
        ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=KEY, ANTHROPIC_AUTH_TOKEN="",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", CLAUDE_CODE_MAX_RETRIES="0",
        OPENAI_API_KEY=KEY, OPENAI_API_BASE=f"{url}/v1", AIDER_OPENAI_API_BASE=f"{url}/v1",
        OPENAI_BASE_URL="", LITELLM_LOCAL_MODEL_COST_MAP="True")  # no fetch from GitHub
    if os.geteuid() == 0:  # claude refuses --dangerously-skip-permissions as root without it
        env["IS_SANDBOX"] = "1"
    return env
