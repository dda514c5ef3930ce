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
uses a 401, which aider gives up on at once; `--slow-agents` makes it the 500 (about 2 minutes
more).

Each failure scenario runs on two profiles in the default run (`matrix`: every profile runs some
failure scenario) and on all five with `--all-agents`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, manifest, on_main, wait_for
from test_doctor import real_agents_path
from test_heartbeat import beat_until as beat_often

sys.path.insert(0, str(ROOT / "tests" / "realagents"))
from model_server import ModelServer, Script  # noqa: E402
from sandbox import prepare_home  # noqa: E402

PROFILES = ("codex-exec", "claude-p", "aider")
ALL = ("codex", "codex-exec", "claude", "claude-p", "aider")


def matrix(profiles: tuple[str, ...], ci: tuple[str, ...]) -> list:
    """`profiles` as pytest params; those outside `ci` are marked `all_agents` and run with
    --all-agents only. Each scenario's CI pair is chosen so that every profile runs some failure
    scenario in CI, and each scenario runs on a TUI and a headless agent or two agent families."""
    assert set(ci) <= set(profiles), (ci, profiles)
    return [pytest.param(p, marks=() if p in ci else pytest.mark.all_agents) for p in profiles]
AIDER_MODEL = "openai/gpt-4o"
EDIT = [{"write": "hello.txt", "content": "hello\n"}, {"commit": "Add hello.txt"},
        {"say": "Done: created hello.txt and committed it."}]


@pytest.fixture
def model(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = ModelServer({"default": []}, log_path=tmp_path / "requests.jsonl").start()
    yield server
    server.stop()


def beat_until(control, predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    """test_heartbeat.beat_until at a real agent's pace: a look every second, not ten."""
    return beat_often(control, predicate, timeout=timeout, what=what, interval=1.0)


def script(server: ModelServer, steps: list[dict]) -> None:
    """What the model answers from the next request on (the default script, from its start)."""
    server.state.scripts["default"] = Script.load(steps)


def isolate(control, model: ModelServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A private HOME and CODEX_HOME with each CLI's first-run state done, the model server's
    URL, quick retries and the real CLIs' PATH, all in control.env."""
    control.env.update(prepare_home(tmp_path / "home", str(control.workdir / "repo"), model.url))
    control.env["PATH"] = f"{real_agents_path()}{os.pathsep}{os.environ.get('PATH', '')}"


def start(control, remote: Path, model: ModelServer, tmp_path: Path,  # type: ignore[no-untyped-def]
          profile: str, steps: list[dict], prepare=None, **top) -> None:
    """Launch task `a` with `profile` against the scripted `steps`; `prepare(control)` runs
    just before the launch, for a test's own agent setup."""
    isolate(control, model, tmp_path)
    script(model, steps)
    if profile == "aider":
        top.setdefault("model", AIDER_MODEL)
    control.write(manifest([[{"id": "a", "title": "Add hello.txt", "files": ["hello.txt"],
                              "body": "Create hello.txt holding hello, and commit it."}]],
                           repo=str(remote), agent=profile, merge="auto", retry_backoff_seconds=0,
                           stall_minutes=5, **top))
    if prepare:
        prepare(control)
    control.doit("launch")


def remote_has_hello(remote: Path) -> bool:
    return on_main(remote, "hello.txt") == "hello\n"


def exited(control, attempt: int) -> Path:  # type: ignore[no-untyped-def]
    return control.workdir / "runs" / "a" / f"attempt-{attempt}.exit"


@pytest.mark.parametrize("profile", PROFILES)
def test_edit_and_commit_goes_to_merged(control, remote, model, tmp_path, profile):
    start(control, remote, model, tmp_path, profile, EDIT)
    status = beat_until(control, lambda s: s["a"]["status"] in ("merged", "error", "stuck"),
                        timeout=90, what=f"{profile} to merge")
    assert status["a"]["status"] == "merged" and status["a"]["attempts"] == 1, status["a"]
    assert remote_has_hello(remote)
    assert status["a"]["usage"] and status["a"]["usage"]["output_tokens"], status["a"]  # events


# How each CLI's first attempt fails fast, and the words its error is named by.
API_ERROR = {
    # interactive: codex's TUI ends the turn on `■ exceeded retry limit, last status: 429`;
    # Claude's StopFailure hook carries `API Error: 500 …`
    "codex": ({"error": 429, "times": None}, "last status: 429"),
    "claude": ({"error": 500, "times": None}, "API Error: 500"),
    # codex 0.171 gives up on a 429 without Retry-After after one request, naming the status;
    # for a 500 it names no status, only the server's message.
    "codex-exec": ({"error": 429, "times": None}, "last status: 429"),
    "claude-p": ({"error": 500, "times": None}, "API Error: 500"),
    # aider retries a 500 or 429 for ~85 s, a 401 it gives up on at once (SLOW_AIDER: --slow-agents)
    "aider": ({"error": 401, "times": None}, "HTTP 401"),
}
SLOW_AIDER = ({"error": 500, "times": None}, "HTTP 500")


def reasons(control, new: str) -> list[str]:  # type: ignore[no-untyped-def]
    from test_heartbeat import journal
    return [reason for state, reason in journal(control, "a") if state == new]


def first_attempt_over(control, profile: str) -> bool:  # type: ignore[no-untyped-def]
    """Attempt 1 has ended, seen without a heartbeat (which would retry it at once): its exit
    file, or for an interactive agent, which never exits, its own hook's or screen's word."""
    runs = control.workdir / "runs" / "a"
    if profile == "claude":
        record = runs / "attempt-1.hooks.jsonl"
        return record.exists() and '"failed"' in record.read_text()
    if profile == "codex":
        log = control.workdir / "logs" / "a.log"
        return log.exists() and b"exceeded retry limit" in log.read_bytes()
    return exited(control, 1).exists()


@pytest.mark.parametrize("profile", matrix(ALL, ci=("claude", "codex-exec")))
def test_a_model_error_is_an_error_and_the_retry_carries_it_to_merged(control, remote, model,
                                                                       tmp_path, profile, request):
    slow = profile == "aider" and request.config.getoption("--slow-agents")
    failure, named = SLOW_AIDER if slow else API_ERROR[profile]
    start(control, remote, model, tmp_path, profile, [failure])
    wait_for(lambda: first_attempt_over(control, profile), timeout=200 if slow else 60,
             what=f"{profile}'s first attempt to end")
    script(model, EDIT)  # the model is back for the retry
    status = beat_until(control, lambda s: s["a"]["status"] in ("merged", "stuck")
                        or s["a"]["attempts"] > 2, timeout=90, what=f"{profile}'s retry to merge")
    errors = reasons(control, "error")
    assert errors and named in errors[0], errors
    retry_prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert named in retry_prompt
    retried = next(r for r in model.requests() if r["steps"] and "write" in r["steps"][0])
    assert named in json.dumps(retried["body"], ensure_ascii=False)  # the model was told
    assert status["a"]["status"] == "merged" and status["a"]["attempts"] == 2, status["a"]
    assert remote_has_hello(remote)


@pytest.mark.parametrize("profile", matrix(ALL, ci=("aider", "codex")))
def test_a_turn_that_errors_after_committing_is_not_complete(control, remote, model, tmp_path,
                                                             profile):
    failure, named = API_ERROR[profile]
    if profile == "aider":
        # aider makes one request per message; its test run after the commit is the next one
        control.env.update(AIDER_AUTO_TEST="true", AIDER_TEST_CMD="false")
    start(control, remote, model, tmp_path, profile, [*EDIT[:2], *EDIT[2:] * (profile == "aider"),
                                                        failure], max_attempts=1)
    status = beat_until(control, lambda s: s["a"]["status"] not in ("pending", "running"),
                        timeout=90, what=f"{profile} to end")
    assert status["a"]["status"] == "error", status["a"]
    assert named in status["a"]["reason"], status["a"]["reason"]
    branch = subprocess.run(["git", "-C", str(control.workdir / "repo"), "log", "--format=%s",
                             "--all", "--not", "main"],
                            capture_output=True, text=True).stdout
    assert "Add hello.txt" in branch  # it did commit
    assert not remote_has_hello(remote)


def marked(marker: str) -> list[int]:
    """Live processes whose environment carries TASKORCH_RUN=<marker>."""
    needle = f"TASKORCH_RUN={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                env = Path(f"/proc/{entry}/environ").read_bytes()
                state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if needle in env.split(b"\0") and state not in (b"Z", b"X"):
                found.append(int(entry))
    return found


@pytest.mark.parametrize("profile", matrix(ALL, ci=("claude-p", "codex")))
def test_stop_while_the_model_hangs_ends_every_process_of_the_agent(control, remote, model,
                                                                    tmp_path, profile):
    start(control, remote, model, tmp_path, profile, [{"hang": None}])
    wait_for(lambda: any(r.get("steps") and "hang" in r["steps"][0] for r in model.requests()),
             timeout=60, what=f"{profile} to ask the model")
    pid_file = control.workdir / "runs" / "a" / "attempt-1.pid"
    marker = json.loads(pid_file.read_text())["marker"]
    assert marked(marker), "the agent runs with its marker"
    control.doit("stop", "a")
    assert marked(marker) == []
    status = control.status()["a"]
    assert status["status"] == "stuck" and "stopped by hand" in status["reason"]
    control.doit("heartbeat")
    assert control.status()["a"]["status"] == "stuck" and marked(marker) == []


@pytest.mark.parametrize("profile", ("codex", "claude"))
def test_an_interactive_turn_that_ends_is_heard_and_merged(control, remote, model, tmp_path,
                                                           profile):
    """No heartbeat is run by hand: the agent never exits, so only its own hook (Claude's Stop,
    codex's notify) can start the heartbeat that sees the turn is over."""
    theirs = tmp_path / "users-own-hook.jsonl"
    start(control, remote, model, tmp_path, profile, EDIT, hook=True,
          prepare=lambda control: users_own_hook(control, profile, theirs))
    wait_for(lambda: control.peek()["a"]["status"] in ("merged", "error", "stuck"),
             timeout=90, interval=0.5,
             what=f"{profile}'s hook to start the heartbeat that merges it")
    status = control.status()
    assert status["a"]["status"] == "merged" and status["a"]["attempts"] == 1, status["a"]
    assert remote_has_hello(remote)
    record = (control.workdir / "runs" / "a" / "attempt-1.hooks.jsonl").read_text()
    assert '"finished"' in record, record
    # the user's own hook (codex: notify in config.toml; Claude: a Stop hook) still ran
    wait_for(lambda: theirs.exists() and "Done: created hello.txt" in theirs.read_text(),
             timeout=10, what="the user's own hook to run too")


def users_own_hook(control, profile: str, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Give the private HOME a hook of the user's own, which appends its payload to `out`."""
    program = out.with_suffix(".py")
    program.write_text("import sys\npayload = sys.argv[1] if len(sys.argv) > 1 else "
                       "sys.stdin.read()\n"
                       f"open({str(out)!r}, 'a').write(payload.replace('\\n', ' ') + '\\n')\n")
    home = Path(control.env["HOME"])
    if profile == "codex":
        config = home / ".codex" / "config.toml"
        config.write_text(f'notify = ["{sys.executable}", "{program}"]\n' + config.read_text())
    else:
        settings = home / ".claude" / "settings.json"
        data = json.loads(settings.read_text())
        data["hooks"] = {"Stop": [{"hooks": [{"type": "command",
                                              "command": f"{sys.executable} {program}"}]}]}
        settings.write_text(json.dumps(data))
