"""Prove the real agent CLIs work against the scripted model, outside taskorch (issue 9).

For each CLI: a headless run in a fresh git repo with the script "create hello.txt with one line
and commit it" (the commit must exist), error and hang runs, and one interactive session in a
private tmux server (working, done, question). Prints how long each took; with --fixtures, saves
what it saw under tests/fixtures/agents/<cli>-<version>/.

    tests/realagents/install.sh && python tests/realagents/smoke.py [--only codex,claude] [--fixtures]

Not a pytest test: it takes minutes (the error runs wait out the CLIs' own retries).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).parent))
from model_server import ModelServer  # noqa: E402

PREFIX = Path(os.environ.get("TASKORCH_AGENTS_PREFIX", "/opt/taskorch-agents"))
BIN = {"codex": PREFIX / "npm/bin/codex", "claude": PREFIX / "npm/bin/claude",
       "aider": PREFIX / "aider-venv/bin/aider"}
VERSION = {"codex": "0.171.0", "claude": "2.1.332", "aider": "0.86.2"}
FIXTURE_DIR = {"codex": "codex-0.171.0", "claude": "claude-code-2.1.332", "aider": "aider-0.86.2"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agents"
CLAUDE_KEY = "sk-ant-scripted-0123456789abcdefghijklmn"
PROMPT = "Create hello.txt with one line and commit it."
OK = [{"write": "hello.txt", "content": "hello from the scripted model\n"},
      {"commit": "Add hello.txt"}, {"say": "Done: created hello.txt and committed it."}]


@dataclass
class Run:
    cli: str
    name: str
    seconds: float
    rc: int | None
    ok: bool
    note: str = ""


@dataclass
class Smoke:
    root: Path
    save: bool
    runs: list[Run] = field(default_factory=list)

    def report(self, run: Run) -> None:
        self.runs.append(run)
        rc = "-" if run.name.startswith("tui") else "killed" if run.rc is None else f"exit {run.rc}"
        print(f"{'ok  ' if run.ok else 'FAIL'} {run.cli:6} {run.name:24} {run.seconds:6.1f}s  "
              f"{rc:8} {run.note}", flush=True)

    def fixture(self, cli: str, name: str, text: str) -> None:
        if not self.save:
            return
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text.replace(str(self.root), "/tmp/smoke"))
        text = "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"
        path = FIXTURES / FIXTURE_DIR[cli] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# -- setup ---------------------------------------------------------------------------------------

def fresh_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git = ["git", "-C", str(path)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "config", "user.name", "Smoke"], check=True)
    subprocess.run([*git, "config", "user.email", "smoke@example.invalid"], check=True)
    (path / "README.md").write_text("smoke\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    return path


def has_commit(repo: Path, subject: str, file: str = "hello.txt") -> bool:
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%s", "--name-only"],
                         capture_output=True, text=True).stdout
    return subject in log and file in log


def setup(cli: str, home: Path, repo: Path, url: str, trusted: bool = True) -> dict[str, str]:
    """A HOME with the first-run state each CLI needs, and the environment to run it with."""
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": f"{BIN[cli].parent}:{os.environ['PATH']}", "HOME": str(home),
           "TERM": os.environ.get("TERM", "xterm-256color"), "LANG": "C.UTF-8"}
    if cli == "codex":
        codex_home = home / ".codex"
        codex_home.mkdir(exist_ok=True)
        trust = f'\n[projects."{repo}"]\ntrust_level = "trusted"\n' if trusted else ""
        (codex_home / "config.toml").write_text(
            'model = "scripted-model"\nmodel_provider = "scripted"\n'
            'check_for_update_on_startup = false\n\n'
            '[model_providers.scripted]\nname = "scripted"\n'
            f'base_url = "{url}/v1"\nwire_api = "responses"\nenv_key = "SCRIPTED_API_KEY"\n' + trust)
        env.update(CODEX_HOME=str(codex_home), SCRIPTED_API_KEY="sk-scripted")
    elif cli == "claude":
        (home / ".claude").mkdir(exist_ok=True)
        (home / ".claude.json").write_text(json.dumps({
            "hasCompletedOnboarding": True,
            "customApiKeyResponses": {"approved": [CLAUDE_KEY[-20:]], "rejected": []},
            "projects": {str(repo): {"hasTrustDialogAccepted": True}}}, indent=2))
        (home / ".claude/settings.json").write_text(
            json.dumps({"skipDangerousModePermissionPrompt": True}))
        env.update(ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=CLAUDE_KEY,
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
        if os.geteuid() == 0:
            env["IS_SANDBOX"] = "1"
    else:
        env.update(OPENAI_API_KEY="sk-scripted")
    return env


def headless_argv(cli: str, url: str, prompt: str) -> list[str]:
    if cli == "codex":
        return [str(BIN[cli]), "exec", "--json", "--dangerously-bypass-approvals-and-sandbox",
                "--skip-git-repo-check", prompt]
    if cli == "claude":
        return [str(BIN[cli]), "-p", "--output-format", "stream-json", "--verbose",
                "--dangerously-skip-permissions", prompt]
    return [str(BIN[cli]), "--openai-api-base", f"{url}/v1", "--model", "openai/gpt-4o",
            "--no-gitignore", "--no-analytics", "--yes-always", "--no-show-model-warnings",
            "--no-check-update", "--no-pretty", "--message", prompt]


# -- headless runs -------------------------------------------------------------------------------

def headless(smoke: Smoke, cli: str, name: str, steps: list[dict[str, Any]], *,
             cut_after: float | None = None, timeout: float = 300, extra_env: dict[str, str] | None = None,
             check: Callable[[int | None, Path, str], tuple[bool, str]]) -> tuple[str, str]:
    """Run the CLI headless on a fresh repo with `steps`; return (stdout, stderr)."""
    base = smoke.root / f"{cli}-{name}"
    repo = fresh_repo(base / "repo")
    server = ModelServer({"default": steps}, base / "requests.jsonl").start()
    env = {**setup(cli, base / "home", repo, server.url), **(extra_env or {})}
    start = time.monotonic()
    proc = subprocess.Popen(headless_argv(cli, server.url, PROMPT), cwd=repo, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=cut_after or timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        rc = None
    seconds = time.monotonic() - start
    server.stop()
    ok, note = check(rc, repo, out + err)
    smoke.report(Run(cli, name, seconds, rc, ok, note))
    return out, err


def committed(rc: int | None, repo: Path, _: str) -> tuple[bool, str]:
    ok = rc == 0 and has_commit(repo, "Add hello.txt")
    return ok, "commit 'Add hello.txt' made" if ok else "no commit"


def expect(rc_want: int | None, pattern: str) -> Callable[[int | None, Path, str], tuple[bool, str]]:
    def check(rc: int | None, repo: Path, text: str) -> tuple[bool, str]:
        m = re.search(pattern, text)
        ok = rc == rc_want and bool(m) and not has_commit(repo, "Add hello.txt")
        return ok, (m.group(0)[:70] if m else f"no /{pattern}/")
    return check


def headless_all(smoke: Smoke, cli: str) -> None:
    if cli == "codex":
        out, err = headless(smoke, cli, "exec-ok", OK, check=committed)
        smoke.fixture(cli, "exec-json-ok.jsonl", out)
        for status in (500, 429):
            out, err = headless(smoke, cli, f"exec-{status}", [{"error": status, "times": None}],
                                check=expect(1, r"exceeded retry limit.*|currently experiencing.*"))
            smoke.fixture(cli, f"exec-json-{status}.jsonl", out)
            smoke.fixture(cli, f"exec-{status}-stderr.txt", err)
        out, err = headless(smoke, cli, "exec-429-retry-after",
                            [{"error": 429, "times": None, "retry_after": 1}],
                            check=expect(1, r"exceeded retry limit.*"))
        smoke.fixture(cli, "exec-json-429-retry-after-1.jsonl", out)
        out, err = headless(smoke, cli, "exec-hang", [{"hang": None}], cut_after=8,
                            check=expect(None, r"turn.started"))
        smoke.fixture(cli, "exec-json-hang-cut-8s.jsonl", out)
        out, _ = headless(smoke, cli, "exec-question", [{"ask": "Formal or informal?"}],
                          check=expect(0, r"Formal or informal\?"))
        smoke.fixture(cli, "exec-json-question.jsonl", out)
    elif cli == "claude":
        out, _ = headless(smoke, cli, "p-ok", OK, check=committed)
        smoke.fixture(cli, "stream-json-ok.jsonl", shorten_claude(out))
        out, _ = headless(smoke, cli, "p-500", [{"error": 500, "times": None}],
                          extra_env={"CLAUDE_CODE_MAX_RETRIES": "2"},
                          check=expect(1, r'"is_error":\s*true'))
        smoke.fixture(cli, "stream-json-500-max-retries-2.jsonl", shorten_claude(out))
        out, _ = headless(smoke, cli, "p-529", [{"error": 529, "times": None}],
                          extra_env={"CLAUDE_CODE_MAX_RETRIES": "1"},
                          check=expect(1, r'"is_error":\s*true'))
        smoke.fixture(cli, "stream-json-529-max-retries-1.jsonl", shorten_claude(out))
        out, _ = headless(smoke, cli, "p-question", [{"ask": "Formal or informal?"}],
                          check=expect(0, r"AskUserQuestion"))
        smoke.fixture(cli, "stream-json-askuserquestion.jsonl", shorten_claude(out))
        out, _ = headless(smoke, cli, "p-hang", [{"hang": None}], cut_after=8,
                          check=expect(None, r'"subtype":\s*"init"'))
        smoke.fixture(cli, "stream-json-hang-cut-8s.jsonl", shorten_claude(out))
    else:
        out, err = headless(smoke, cli, "ok", OK, check=committed)
        smoke.fixture(cli, "aider-ok.txt", out + err)
        out, err = headless(smoke, cli, "429", [{"error": 429, "times": None}], timeout=200,
                            check=expect(0, r"rate limited you"))
        smoke.fixture(cli, "aider-429-exit0.txt", out + err)
        out, err = headless(smoke, cli, "question", [{"ask": "Formal or informal?"}],
                            check=expect(0, r"Formal or informal\?"))
        smoke.fixture(cli, "aider-question-exit0.txt", out + err)
        out, err = headless(smoke, cli, "hang", [{"hang": None}], cut_after=10,
                            check=expect(None, r"Aider v"))
        smoke.fixture(cli, "aider-hang-cut-10s.txt", out + err)


def shorten_claude(out: str) -> str:
    """Claude's init event lists every tool, command and skill: keep the first few of each."""
    lines = []
    for line in out.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            lines.append(line)
            continue
        for key, value in list(event.items()):
            if isinstance(value, list) and len(value) > 6:
                event[key] = value[:6] + [f"... {len(value) - 6} more"]
        lines.append(json.dumps(event))
    return "\n".join(lines)


# -- interactive, in tmux ------------------------------------------------------------------------

class Tmux:
    def __init__(self, socket: str) -> None:
        self.base = ["tmux", "-L", socket]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "s")

    def wait(self, pattern: str, timeout: float, veto: str | None = None) -> tuple[str, float]:
        """Poll the screen until `pattern` shows (and `veto` does not); (screen, seconds)."""
        start = time.monotonic()
        while True:
            screen = self.screen()
            if re.search(pattern, screen, re.M) and not (veto and re.search(veto, screen, re.M)):
                return screen, time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"/{pattern}/ not on screen after {timeout}s:\n{screen}")
            time.sleep(0.25)

    def type(self, text: str) -> None:
        self("send-keys", "-t", "s", "-l", text)
        time.sleep(0.3)
        self("send-keys", "-t", "s", "Enter")


INTERACTIVE = {  # cli -> (argv after the binary, done, working, question patterns)
    "codex": (["--no-daemon", "--dangerously-bypass-approvals-and-sandbox"],
              r"Worked for", r"Working \(", r"Formal or informal\?"),
    "claude": (["--dangerously-skip-permissions"],
               r"^✻ \w+ for \d", r"esc to interrupt", r"Enter to select"),
}


def interactive(smoke: Smoke, cli: str) -> None:
    args, done, working, question = INTERACTIVE[cli]
    base = smoke.root / f"{cli}-tui"
    repo = fresh_repo(base / "repo")
    scripts = {"default": [OK[0], {"shell": "sleep 6", "text": "Waiting a moment."}, *OK[1:]],
               "q": [{"ask": "Formal or informal?", "options": ["Formal", "Informal"]}]}
    server = ModelServer(scripts, base / "requests.jsonl").start()
    env = setup(cli, base / "home", repo, server.url, trusted=False)
    tmux = Tmux(f"taskorch-smoke-{os.getpid()}")
    argv = ["env", *(f"{k}={v}" for k, v in env.items()), str(BIN[cli]), *args, PROMPT]
    start = time.monotonic()
    tmux("new-session", "-d", "-s", "s", "-x", "160", "-y", "45", "-c", str(repo), *argv)
    try:
        if cli == "codex":  # left untrusted on purpose, to see the dialog and accept it
            screen, _ = tmux.wait(r"Trust this folder\?", 30)
            smoke.fixture(cli, "tui-trust-folder.txt", screen)
            tmux("send-keys", "-t", "s", "Enter")
        tmux.wait(r"Waiting a moment", 60)  # the 6 s shell step is running
        time.sleep(2)
        screen, _ = tmux.wait(working, 10)
        smoke.fixture(cli, "tui-working.txt", screen)
        screen, _ = tmux.wait(done, 60, veto=working if cli == "claude" else None)
        seconds = time.monotonic() - start
        smoke.fixture(cli, "tui-done.txt", screen)
        smoke.report(Run(cli, "tui-ok", seconds, None, has_commit(repo, "Add hello.txt"),
                         "commit made, screen says done"))
        start = time.monotonic()
        tmux.type("[[script:q]] One more thing.")
        screen, seconds = tmux.wait(question, 60)
        time.sleep(1.5)
        smoke.fixture(cli, "tui-question.txt", tmux.screen())
        smoke.report(Run(cli, "tui-question", seconds, None, True, "question on screen"))
    except TimeoutError as exc:
        smoke.report(Run(cli, "tui", time.monotonic() - start, None, False, str(exc)[:60]))
        smoke.fixture(cli, "tui-timeout.txt", str(exc))
    finally:
        tmux("kill-server")
        server.stop()
        paths = [str(r["path"]) for r in server.requests()]
        print(f"       {cli} tui requests: {', '.join(sorted(set(paths)))} ({len(paths)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="codex,claude,aider")
    ap.add_argument("--skip", default="", help="comma list of: headless, tui")
    ap.add_argument("--fixtures", action="store_true", help="save what was seen as fixtures")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    missing = [str(BIN[c]) for c in args.only.split(",") if not BIN[c].exists()]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}; run tests/realagents/install.sh")
    root = Path(tempfile.mkdtemp(prefix="smoke-", dir="/tmp"))
    smoke = Smoke(root, args.fixtures)
    try:
        for cli in args.only.split(","):
            if "headless" not in args.skip:
                headless_all(smoke, cli)
            if cli in INTERACTIVE and "tui" not in args.skip:
                interactive(smoke, cli)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    failed = [r for r in smoke.runs if not r.ok]
    print(f"{len(smoke.runs) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
