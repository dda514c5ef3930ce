"""`doit doctor` through the doit CLI, with a private HOME and CODEX_HOME: each problem named
with its fix, `--fix` repairing only what is safe while keeping every other setting, a missing
program stopping `doit launch` before an attempt is spent, and the real CLIs' versions."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, manifest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

KEY = "sk-ant-test-0000000000000000000000000000secretKEY9"  # never printed beyond "…KEY9"
AGENT_PROGRAMS = ("codex", "claude", "aider")
# Every variable a check reads, unset (empty counts as unset) unless a test sets it.
CLEAN = {"ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": "", "OPENAI_API_KEY": "",
         "OPENAI_API_BASE": "", "IS_SANDBOX": "", "SCRIPTED_API_KEY": ""}


def path_without_agents() -> str:
    """PATH with every directory holding a real codex, claude or aider left out."""
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not any(shutil.which(p, path=d) for p in AGENT_PROGRAMS))


def fake_bin(tmp_path: Path, **versions: str) -> Path:
    """Stand-ins that answer `--version` as the real CLIs do, e.g. codex="0.171.0"."""
    said = {"codex": "codex-cli {}", "claude": "{} (Claude Code)", "aider": "aider {}"}
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    for name, version in versions.items():
        script = directory / name
        script.write_text(f"#!/bin/sh\necho '{said[name].format(version)}'\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return directory


@pytest.fixture
def home(control, tmp_path: Path) -> Path:
    """A private HOME and CODEX_HOME, fake CLIs at the verified versions first on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = fake_bin(tmp_path, codex="0.171.0", claude="2.1.332", aider="0.86.2")
    control.env.update(CLEAN, HOME=str(home), CODEX_HOME=str(home / ".codex"),
                       PATH=f"{bin_dir}{os.pathsep}{path_without_agents()}")
    return home


def three_agents(**top) -> dict:  # type: ignore[no-untyped-def]
    """claude at the top, codex for one task, and a user profile extending aider."""
    return manifest([[{"id": "a", "title": "A", "files": ["a"]},
                      {"id": "b", "title": "B", "files": ["b"], "agent": "codex"},
                      {"id": "c", "title": "C", "files": ["c"], "agent": "mine"}]],
                    agent="claude", agents={"mine": {"extends": "aider"}}, **top)


def report(result: subprocess.CompletedProcess) -> dict[tuple[str, str], tuple[str, str]]:
    """(profile, check) -> (level, the whole line), from doctor's text output."""
    out = {}
    for line in result.stdout.splitlines():
        level, _, rest = line.partition(" ")
        if level in ("ok", "warning", "problem"):
            profile, check, _ = (part.strip() for part in rest.split(":", 2))
            out[(profile, check)] = (level, line)
    return out


def clone(control) -> str:  # type: ignore[no-untyped-def]
    return str((control.workdir / "repo").resolve())


def test_each_problem_is_named_with_its_exact_fix(control, home):
    control.write(three_agents())
    control.env["ANTHROPIC_API_KEY"] = KEY
    result = control.doit("doctor", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    seen = report(result)
    repo = clone(control)

    assert seen[("claude", "program")][0] == "ok" and "2.1.332" in seen[("claude", "program")][1]
    assert seen[("codex", "program")][0] == "ok" and "0.171.0" in seen[("codex", "program")][1]
    assert seen[("mine", "program")][0] == "ok" and "0.86.2" in seen[("mine", "program")][1]
    assert seen[("claude", "credentials")][0] == "ok"
    assert "…KEY9" in seen[("claude", "credentials")][1]

    level, line = seen[("claude", "onboarding")]
    assert level == "problem" and "hasCompletedOnboarding" in line
    assert "fix: `doit doctor --fix`" in line
    level, line = seen[("claude", "api key")]
    assert level == "problem" and "…KEY9 is not approved" in line and "--fix" in line
    level, line = seen[("claude", "trust")]
    assert level == "problem" and repo in line and "hasTrustDialogAccepted" in line
    level, line = seen[("claude", "bypass prompt")]
    assert level == "problem" and "skipDangerousModePermissionPrompt" in line
    level, line = seen[("claude", "root")]
    if os.geteuid() == 0:
        assert level == "problem" and 'IS_SANDBOX: "1"' in line and "fix:" in line
    else:
        assert level == "ok"

    level, line = seen[("codex", "credentials")]
    assert level == "problem" and "fix: run `codex login`, or export OPENAI_API_KEY=" in line
    level, line = seen[("codex", "trust")]
    assert level == "problem" and f'[projects."{repo}"] trust_level = "trusted"' in line
    assert seen[("mine", "credentials")][0] == "ok"  # aider takes ANTHROPIC_API_KEY too

    assert "problems; `doit doctor --fix` repairs 5 of them" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "taskorch: doctor: 7 problems: an agent may not start unattended"
        if os.geteuid() == 0 else "taskorch: doctor: 6 problems: an agent may not start unattended"]
    assert KEY not in result.stdout + result.stderr and KEY[-20:] not in result.stdout
    assert not (home / ".claude.json").exists()  # without --fix nothing is written


def test_custom_codex_provider_and_aider_without_a_key(control, home):
    control.write(manifest([[{"id": "b", "title": "B", "files": ["b"], "agent": "codex-exec"},
                             {"id": "c", "title": "C", "files": ["c"], "agent": "aider"}]]))
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text(
        'model_provider = "scripted"\n[model_providers.scripted]\nname = "s"\n'
        'base_url = "http://127.0.0.1:1/v1"\nenv_key = "SCRIPTED_API_KEY"\n')
    seen = report(control.doit("doctor", check=False))
    level, line = seen[("codex-exec", "credentials")]
    assert level == "problem" and "fix: export SCRIPTED_API_KEY=…" in line
    assert seen[("codex-exec", "trust")][0] == "warning"  # codex exec does not ask
    level, line = seen[("aider", "credentials")]
    assert level == "warning" and "OPENAI_API_KEY" in line

    control.env.update(SCRIPTED_API_KEY="x" * 16 + "abcd", OPENAI_API_BASE="http://127.0.0.1:1/v1")
    result = control.doit("doctor", check=False)
    seen = report(result)
    assert seen[("codex-exec", "credentials")] == ("ok", seen[("codex-exec", "credentials")][1])
    assert "SCRIPTED_API_KEY is set (…abcd)" in seen[("codex-exec", "credentials")][1]
    assert seen[("aider", "credentials")][0] == "ok"
    assert result.returncode == 0, result.stdout  # warnings alone pass


def test_a_version_outside_the_verified_range_warns_and_a_missing_program_is_a_problem(
        control, home, tmp_path):
    bin_dir = fake_bin(tmp_path, codex="0.150.3", aider="0.86.9")
    (bin_dir / "claude").unlink()
    control.env["PATH"] = f"{bin_dir}{os.pathsep}{path_without_agents()}"
    control.write(three_agents())
    result = control.doit("doctor", check=False)
    seen = report(result)
    level, line = seen[("codex", "program")]
    assert level == "warning" and "0.150.3, outside the verified 0.171.x" in line
    assert "fix: install the verified version: npm install -g @openai/codex@0.171.0" in line
    assert seen[("mine", "program")][0] == "ok"  # 0.86.x is in range
    level, line = seen[("claude", "program")]
    assert level == "problem" and "'claude' is not on PATH" in line
    assert "npm install -g @anthropic-ai/claude-code@2.1.332" in line
    assert result.returncode == 1


def test_fix_repairs_what_it_may_and_keeps_every_other_setting(control, home):
    control.write(three_agents())
    control.env.update(ANTHROPIC_API_KEY=KEY, IS_SANDBOX="1",
                       OPENAI_API_KEY="sk-" + "o" * 20 + "4321")
    repo = clone(control)
    claude_json = home / ".claude.json"
    original = {"numStartups": 7, "theme": "dark", "oauthAccount": {"email": "me@example.com"},
                "customApiKeyResponses": {"approved": ["someOtherKeySuffix00"], "rejected": []},
                "projects": {"/elsewhere": {"hasTrustDialogAccepted": True, "allowedTools": ["x"]},
                             str(Path(repo).parent): {"hasTrustDialogAccepted": True}}}
    claude_json.write_text(json.dumps(original))
    claude_json.chmod(0o600)
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text('{"model": "opus", "env": {"A": "1"}}')
    (home / ".codex").mkdir()
    config = ('# mine\nmodel = "o3"  # keep this comment\n\n'
              '[projects."/elsewhere"]\ntrust_level = "trusted"')
    (home / ".codex" / "config.toml").write_text(config)

    before = report(control.doit("doctor", check=False))
    assert "a parent folder does not count" in before[("claude", "trust")][1]

    result = control.doit("doctor", "--fix")
    fixed = [line for line in result.stdout.splitlines() if line.startswith("fixed ")]
    assert fixed == [
        "fixed    claude: ~/.claude.json: set hasCompletedOnboarding",
        "fixed    claude: ~/.claude.json: approved the key …KEY9",
        f"fixed    claude: ~/.claude.json: trusted the clone {repo}",
        "fixed    claude: ~/.claude/settings.json: set skipDangerousModePermissionPrompt",
        f"fixed    codex: ~/.codex/config.toml: trusted the clone {repo}",
    ]
    assert all(level == "ok" for level, _ in report(result).values()), result.stdout
    assert "0 problems" in result.stdout

    state = json.loads(claude_json.read_text())
    assert state["hasCompletedOnboarding"] is True
    assert state["customApiKeyResponses"]["approved"] == ["someOtherKeySuffix00", KEY[-20:]]
    assert state["projects"][repo] == {"hasTrustDialogAccepted": True}
    for key in ("numStartups", "theme", "oauthAccount"):
        assert state[key] == original[key]
    assert state["projects"]["/elsewhere"] == original["projects"]["/elsewhere"]
    assert stat.S_IMODE(claude_json.stat().st_mode) == 0o600
    assert json.loads((home / ".claude.json.taskorch-backup").read_text()) == original
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings == {"model": "opus", "env": {"A": "1"},
                        "skipDangerousModePermissionPrompt": True}
    text = (home / ".codex" / "config.toml").read_text()
    assert text.startswith(config + "\n")  # the user's text byte for byte, the table appended
    parsed = tomllib.loads(text)
    assert parsed["model"] == "o3" and parsed["projects"]["/elsewhere"]["trust_level"] == "trusted"
    assert parsed["projects"][repo] == {"trust_level": "trusted"}
    assert (home / ".codex" / "config.toml.taskorch-backup").read_text() == config
    assert KEY not in result.stdout + result.stderr

    again = control.doit("doctor", "--fix")
    assert "fixed " not in again.stdout
    assert json.loads((home / ".claude.json.taskorch-backup").read_text()) == original  # once
    assert (home / ".codex" / "config.toml").read_text() == text


def test_fix_never_writes_what_it_cannot_read_nor_overrides_a_choice(control, home):
    control.write(three_agents())
    repo = clone(control)
    (home / ".claude.json").write_text('{"numStartups": 1,')
    (home / ".codex").mkdir()
    config = f'[projects."{repo}"]\ntrust_level = "untrusted"\n'
    (home / ".codex" / "config.toml").write_text(config)
    result = control.doit("doctor", "--fix", check=False)
    assert result.returncode == 1
    seen = report(result)
    level, line = seen[("claude", "first run")]
    assert level == "problem" and "is not valid JSON" in line and "move it aside" in line
    level, line = seen[("codex", "trust")]
    assert level == "problem" and "trust_level = 'untrusted'" in line and "by hand" in line
    assert (home / ".claude.json").read_text() == '{"numStartups": 1,'
    assert (home / ".codex" / "config.toml").read_text() == config
    assert not (home / ".codex" / "config.toml.taskorch-backup").exists()
    # credentials are never created
    assert not (home / ".claude" / ".credentials.json").exists()
    assert not (home / ".codex" / "auth.json").exists()


def test_json_format_for_scripts(control, home):
    control.write(three_agents())
    result = control.doit("doctor", "--format", "json", check=False)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["clone"] == clone(control) and data["fixed"] == []
    checks = {(c["profile"], c["check"]): c for c in data["checks"]}
    assert checks[("mine", "credentials")]["agent"] == "aider"
    assert checks[("claude", "onboarding")] | {"message": ""} == {
        "profile": "claude", "agent": "claude", "check": "onboarding", "level": "problem",
        "message": "", "fix": "`doit doctor --fix` sets it", "fixable": True}
    control.env.update(ANTHROPIC_API_KEY=KEY, IS_SANDBOX="1", OPENAI_API_KEY="sk-" + "o" * 20)
    fixed = json.loads(control.doit("doctor", "--fix", "-f", "json").stdout)
    assert fixed["ok"] is True and len(fixed["fixed"]) == 5


def test_a_missing_program_fails_launch_in_one_line_and_spends_no_attempt(control):
    control.env["PATH"] = path_without_agents()
    control.write(manifest([[{"id": "g", "title": "G", "files": ["g"], "agent": "ghost"}]],
                           agents={"ghost": {"command": ["no-such-agent-5f3e", "{prompt_file}"]}}))
    result = control.doit("launch", check=False)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "taskorch: launch:g: agent program 'no-such-agent-5f3e' of profile ghost is not on PATH; "
        "install it, add its directory to PATH, or change the profile's command; "
        "`doit doctor` checks every profile"]
    assert "Traceback" not in result.stdout + result.stderr
    status = control.status()
    assert (status["g"]["status"], status["g"]["attempts"]) == ("pending", 0)
    assert control.sessions() == {}
    assert not (control.workdir / "runs").exists() and not (control.workdir / "repo").exists()
    db = sqlite3.connect(control.workdir / "state.db")
    assert db.execute("SELECT count(*) FROM events WHERE task = 'g' AND new = 'running'"
                      ).fetchone() == (0,)


def test_a_missing_builtin_program_names_its_install(control):
    control.env["PATH"] = path_without_agents()
    control.write(manifest([[{"id": "x", "title": "X", "files": ["x"], "agent": "claude"}]]))
    result = control.doit("launch", check=False)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "taskorch: launch:x: agent program 'claude' of profile claude is not on PATH; install "
        "it (npm install -g @anthropic-ai/claude-code@2.1.332), add its directory to PATH, or "
        "change the profile's command; `doit doctor` checks every profile"]
    assert control.status()["x"]["attempts"] == 0


def real_agents_path() -> str:
    """The PATH line tests/realagents/install.sh --env prints, with the CLIs checked there."""
    line = subprocess.run(["bash", str(ROOT / "tests" / "realagents" / "install.sh"), "--env"],
                          capture_output=True, text=True, check=True).stdout.strip()
    prefix = line.split('"', 2)[1].split(os.pathsep)
    dirs = [d for d in prefix if d != "$PATH"]
    missing = [p for p in AGENT_PROGRAMS if not shutil.which(p, path=os.pathsep.join(dirs))]
    if missing:
        pytest.fail(f"the real agent CLIs are not installed ({', '.join(missing)} missing from "
                    f"{os.pathsep.join(dirs)}): run `bash tests/realagents/install.sh`")
    return os.pathsep.join(dirs)


def test_the_real_clis_versions_are_detected_and_ok(control, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    control.env.update(CLEAN, HOME=str(home), CODEX_HOME=str(home / ".codex"),
                       PATH=f"{real_agents_path()}{os.pathsep}{os.environ.get('PATH', '')}")
    control.write(manifest([[{"id": "a", "title": "A", "files": ["a"], "agent": "claude"},
                             {"id": "b", "title": "B", "files": ["b"], "agent": "codex"},
                             {"id": "c", "title": "C", "files": ["c"], "agent": "aider"}]]))
    seen = report(control.doit("doctor", check=False))
    for profile, version in (("codex", "0.171."), ("claude", "2.1."), ("aider", "0.86.")):
        level, line = seen[(profile, "program")]
        assert level == "ok", line
        assert f", version {version}" in line and "(verified" in line
