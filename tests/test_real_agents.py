"""The real headless agent CLIs (codex exec, claude -p, aider), driven end to end by taskorch
through the doit CLI against the scripted model server on 127.0.0.1 (issue 9, part 2), with a
real bare remote and `merge: auto`.

Each test has its own HOME (and CODEX_HOME) holding the first-run files tests/realagents/README.md
describes, and its own model server; both go into `control.env`, so doit and every agent it
starts inherit them and the user's own configuration is never read or touched. The CLIs must be
installed (`bash tests/realagents/install.sh`, as CI does): without them these tests fail.

Retries are made quick where the CLI allows it: codex gets `request_max_retries = 0` and
`stream_max_retries = 0`, Claude `CLAUDE_CODE_MAX_RETRIES=0`. aider retries a 500 or 429 for
about 85 s before it gives up (and exits 0), so its CI version of "model error, then a retry"
uses a 401, which aider gives up on at once; the 500 version is behind `--slow-agents`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, manifest, wait_for
from test_doctor import real_agents_path
from test_heartbeat import beat_until

sys.path.insert(0, str(ROOT / "tests" / "realagents"))
from model_server import ModelServer, Script  # noqa: E402

KEY = "sk-scripted-0000000000000000000000000000000key7"  # what every CLI sends; the server ignores it
PROFILES = ("codex-exec", "claude-p", "aider")
AIDER_MODEL = "openai/gpt-4o"
EDIT = [{"write": "hello.txt", "content": "hello\n"}, {"commit": "Add hello.txt"},
        {"say": "Done: created hello.txt and committed it."}]


@pytest.fixture
def model(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = ModelServer({"default": []}, log_path=tmp_path / "requests.jsonl").start()
    yield server
    server.stop()


def script(server: ModelServer, steps: list[dict]) -> None:
    """What the model answers from the next request on (the default script, from its start)."""
    server.state.scripts["default"] = Script.load(steps)


def isolate(control, model: ModelServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A private HOME and CODEX_HOME with each CLI's first-run state done, the model server's
    URL, quick retries and the real CLIs' PATH, all in control.env."""
    home = tmp_path / "home"
    codex_home = home / ".codex"
    (home / ".claude").mkdir(parents=True)
    codex_home.mkdir()
    clone = str(control.workdir / "repo")
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
        f'name = "scripted"\nbase_url = "{model.url}/v1"\nwire_api = "responses"\n'
        'env_key = "SCRIPTED_API_KEY"\nrequest_max_retries = 0\nstream_max_retries = 0\n\n'
        f'[projects."{clone}"]\ntrust_level = "trusted"\n')
    control.env.update(
        HOME=str(home), CODEX_HOME=str(codex_home), XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PATH=f"{real_agents_path()}{os.pathsep}{os.environ.get('PATH', '')}",
        SCRIPTED_API_KEY=KEY,
        ANTHROPIC_BASE_URL=model.url, ANTHROPIC_API_KEY=KEY, ANTHROPIC_AUTH_TOKEN="",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", CLAUDE_CODE_MAX_RETRIES="0",
        OPENAI_API_KEY=KEY, OPENAI_API_BASE=f"{model.url}/v1", AIDER_OPENAI_API_BASE=f"{model.url}/v1",
        OPENAI_BASE_URL="")
    if os.geteuid() == 0:  # claude refuses --dangerously-skip-permissions as root without it
        control.env["IS_SANDBOX"] = "1"


def start(control, remote: Path, model: ModelServer, tmp_path: Path, profile: str,  # type: ignore[no-untyped-def]
          steps: list[dict], **top) -> None:
    isolate(control, model, tmp_path)
    script(model, steps)
    if profile == "aider":
        top.setdefault("model", AIDER_MODEL)
    control.write(manifest([[{"id": "a", "title": "Add hello.txt", "files": ["hello.txt"],
                              "body": "Create hello.txt holding hello, and commit it."}]],
                           repo=str(remote), agent=profile, merge="auto", retry_backoff_seconds=0,
                           stall_minutes=5, **top))
    control.doit("launch")


def remote_has_hello(remote: Path) -> bool:
    out = subprocess.run(["git", "--git-dir", str(remote), "show", "main:hello.txt"],
                         capture_output=True, text=True)
    return out.returncode == 0 and out.stdout == "hello\n"


def exited(control, attempt: int) -> Path:  # type: ignore[no-untyped-def]
    return control.workdir / "runs" / "a" / f"attempt-{attempt}.exit"


@pytest.mark.parametrize("profile", PROFILES)
def test_edit_and_commit_goes_to_merged(control, remote, model, tmp_path, profile):
    start(control, remote, model, tmp_path, profile, EDIT)
    status = beat_until(control, lambda s: s["a"]["status"] in ("merged", "error", "stuck"),
                        timeout=90, what=f"{profile} to merge")
    assert status["a"]["status"] == "merged", status["a"]
    assert remote_has_hello(remote)
