"""Shared test fixtures: a control directory with a real doit CLI, real git and a real tmux server.

Each test gets its own work directory, so its tmux server (named from the work directory) is
private to it; teardown kills that server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DONE = {"complete", "pr_open", "merged"}  # verified, and maybe delivered or merged since
AGENTS = Path(__file__).resolve().parent / "agents"
# libyaml's dumper and loader where PyYAML has them: the pure-Python ones took 6 s of CPU to
# write a 5 MB manifest, in a suite whose time is its CPU (same output, same data)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump_yaml(data: Any, **options: Any) -> str:
    """yaml.safe_dump(data, **options), through libyaml when present."""
    return yaml.dump(data, Dumper=_DUMPER, **options)


def load_yaml(text: str) -> Any:
    """yaml.safe_load(text), through libyaml when present."""
    return yaml.load(text, Loader=_LOADER)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--faults", type=int, default=10,
                     help="faults the reliability suite injects (CI: 10; the long run: 200)")
    parser.addoption("--soak", action="store_true",
                     help="run the soak test: 100 tasks through to merged")
    parser.addoption("--slow-agents", action="store_true",
                     help="real agent CLIs: aider's model error is a 500 it retries for ~85 s "
                          "(CI: a 401 it gives up on at once)")
    parser.addoption("--all-agents", action="store_true",
                     help="run every real-agent scenario on all five profiles (CI: on two "
                          "each, every profile in some; test_real_agents.matrix); about 6 "
                          "minutes more on 2 cores")


def pytest_configure(config: pytest.Config) -> None:
    """Refuse --dist loadgroup where it silently does nothing: pytest 9.2's node ids drop the
    group xdist adds (pytest-xdist#1386), so xdist_group modules spread over the workers, each
    starting its own Ray head, browser or AWS stand-in: minutes more of a suite that must stay
    under ten. The test extra pins pytest below 9.2. Then give the suite its bytecode."""
    keep_bytecode(first=not hasattr(config, "workerinput"))
    major, minor = (int(part) for part in pytest.__version__.split(".")[:2])
    if config.getvalue("dist") == "loadgroup" and not hasattr(config, "workerinput") \
            and config.getvalue("numprocesses") and (major, minor) >= (9, 2):
        raise pytest.UsageError(f"pytest {pytest.__version__} ignores xdist_group under --dist "
                                "loadgroup (pytest-xdist#1386): pip install -e '.[test]' "
                                "installs the pytest the suite needs")


def keep_bytecode(first: bool) -> None:
    """Compile lib/ once (`first`: the xdist controller, before its workers start), and let
    pytest cache its rewritten test modules, whatever PYTHONDONTWRITEBYTECODE says. This
    workplace's machines set it (CI's run took as long as one without bytecode), and this
    suite's time is its CPU: every `doit` process compiled all of taskorch anew (0.45 s of CPU
    where 0.3 s does), and every worker rewrote every test module (6 s each). Python still
    reads bytecode under that variable; it only never writes it."""
    sys.dont_write_bytecode = False
    if first:
        import compileall
        compileall.compile_dir(ROOT / "lib", quiet=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --all-agents, the real-agent scenarios marked `all_agents` (the pairs outside
    each scenario's CI pair) are deselected: the full matrix alone was a third of the suite."""
    if config.getoption("--all-agents"):
        return
    dropped = [item for item in items if item.get_closest_marker("all_agents")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("all_agents")]


@contextlib.contextmanager
def _env(extra: dict[str, str]) -> Iterator[None]:
    """os.environ with `extra` for the block (the runner reads TASKORCH_* and PATH from it)."""
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll until predicate() is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Control:
    """A control directory (dodo.py, orchestrator.yaml, prompts/) driven through doit's CLI."""

    def __init__(self, path: Path):
        self.path = path
        self.env: dict[str, str] = {}  # extra environment for every doit call
        shutil.copy(ROOT / "dodo.py", path / "dodo.py")
        shutil.copytree(ROOT / "prompts", path / "prompts")

    @property
    def workdir(self) -> Path:
        return self.path / ".orchestrator"

    def write(self, manifest: dict[str, Any] | str) -> Path:
        text = manifest if isinstance(manifest, str) else dump_yaml(manifest, sort_keys=False)
        target = self.path / "orchestrator.yaml"
        target.write_text(text)
        return target

    def doit(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "doit", *args], cwd=self.path,
                                capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **self.env})
        if check and result.returncode != 0:
            pytest.fail(f"doit {' '.join(args)} exited {result.returncode}\n"
                        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def status(self, cli: bool = False) -> dict[str, dict[str, Any]]:
        """Task rows by id, as `doit status --format json` gives them: read in process (peek)
        unless `cli`. A `doit status` per look was 15% of the suite's CPU; the verb itself is
        run where it is what is tested (its output, its reading state that faults left), and
        test_status_json_in_process_is_the_verbs keeps the two equal."""
        if not cli:
            return self.peek()
        out = self.doit("status", "--format", "json").stdout
        return {t["id"]: t for t in json.loads(out)["tasks"]}

    def peek(self) -> dict[str, dict[str, Any]]:
        """What `status()` gives, read in this process: for loops that poll while agents run.
        A `doit status` process costs about 0.35 s of CPU, and polling with it took the CPU
        the agents under test needed. The JSON is the same function's (status.as_dict)."""
        from taskorch.commands.status import as_dict
        from taskorch.project import Project
        with _env(self.env):
            project = Project.load(self.path / "orchestrator.yaml", store=True)
            tasks = as_dict(project, project.views())["tasks"]
            project.store.close()
        return {t["id"]: t for t in tasks}

    def project(self):  # type: ignore[no-untyped-def]
        from taskorch.project import Project
        return Project.load(self.path / "orchestrator.yaml")

    def sessions(self) -> dict[str, Any]:
        return self.project().runner.snapshot()

    def kill_tmux(self) -> None:
        try:
            self.project().runner.kill_server()
        except Exception:
            pass

    def shut_down(self) -> None:
        """No heartbeat may outlive its test and relaunch agents into a dead tmp dir: silence
        the hook script, wait under the lock for a running heartbeat, kill tmux, and move the
        manifest aside so a heartbeat that starts even later has nothing to act on."""
        from taskorch import lock
        try:
            project = self.project()
        except Exception:
            return  # an invalid manifest never started anything
        hook = project.layout.root / "heartbeat-hook"
        if hook.exists():
            hook.write_text("#!/bin/sh\nexit 0\n")
        with lock.hold(project.layout.lock, wait=60):
            self.kill_tmux()
            (self.path / "orchestrator.yaml").rename(self.path / "orchestrator.yaml.ended")


@pytest.fixture
def control(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "control"
    path.mkdir()
    ctl = Control(path)
    yield ctl
    if (path / "orchestrator.yaml").exists():
        ctl.shut_down()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A real bare repository with one commit on main, standing in for GitHub."""
    bare = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "--initial-branch=main", str(seed)], check=True)
    (seed / "README.md").write_text("seed\n")
    subprocess.run(git + ["add", "-A"], cwd=seed, check=True)
    subprocess.run(git + ["commit", "-qm", "seed"], cwd=seed, check=True)
    subprocess.run(git + ["push", "-q", str(bare), "HEAD:refs/heads/main"], cwd=seed, check=True)
    return bare


def push_to_main(remote: Path, where: Path, path: str, text: str) -> None:
    """A person's commit on main, pushed: `path` holding `text`, from their own clone at
    `where` (a base that moved under a task, a conflict to be)."""
    git = ["git", "-c", "user.name=person", "-c", "user.email=person@example.invalid"]
    subprocess.run(["git", "clone", "-q", str(remote), str(where)], check=True)
    (where / path).write_text(text)
    for args in (["add", path], ["commit", "-qm", "meanwhile on main"], ["push", "-q", "origin",
                                                                          "main"]):
        subprocess.run(git + args, cwd=where, check=True, capture_output=True)


def on_main(remote: Path, path: str, ref: str = "main") -> str | None:
    """`path` as `ref` of the bare remote holds it, or None where it has no such file."""
    out = subprocess.run(["git", "--git-dir", str(remote), "show", f"{ref}:{path}"],
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None


def agent_profile(script: str, *extra: str) -> dict[str, Any]:
    """A user agent profile running one of the scripted agents in tests/agents/."""
    return {"command": [sys.executable, str(AGENTS / script), *extra]}


def manifest(phases: list[list[dict[str, Any]]], **top: Any) -> dict[str, Any]:
    """A manifest dict: phases given as lists of task dicts.

    The pane-died hook is off unless a test turns it on: with it, heartbeats run by themselves
    whenever an agent exits, and a test of one verb wants to see only that verb's effects.
    """
    return {"project": top.pop("project", "test"), "repo": top.pop("repo", "demo"),
            "agent": top.pop("agent", "demo"), "hook": top.pop("hook", False), **top,
            "phases": [{"name": f"Phase {i + 1}", "tasks": tasks} for i, tasks in enumerate(phases)]}
