"""Hostile text in titles, bodies, file names, ids and pasted input: never run, never cut.

Each hostile string would create a marker file if anything evaluated it in a shell, in tmux's
command parser or as Jinja source. The agent must receive the prompt byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import AGENTS, agent_profile, manifest, wait_for


def hostile(marker: Path) -> list[str]:
    m = str(marker)
    return [f"$(touch {m})", f"`touch {m}`", f"'; touch {m}; '", f'"; touch {m}; "', ";",
            f"x ; run-shell 'touch {m}' ;", "two\nlines\n; touch " + m, "C-c", "Enter", "C-m",
            "{{ 7*7 }}", "{% for x in range(3) %}loop{% endfor %}", "{{ ''.__class__.__mro__ }}",
            "\x1b[31mred\x1b[0m \x1b]0;title\x07", "\\; \\n %s %n #{session_name}"]


def assert_nothing_ran(marker: Path) -> None:
    assert not marker.exists(), "hostile text was executed"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


def test_hostile_title_body_and_files_reach_the_agent_byte_exact(control, marker, tmp_path):
    texts = hostile(marker)
    big = "".join(f"line {i:07d} {texts[i % len(texts)]}\n" for i in range(20000))
    assert len(big.encode()) > 1_000_000
    files = ["src/$(touch PWNED).py", "src/`touch PWNED`.txt", "src/a;b.py", "src/;", "src/C-c",
             "src/{{ 7+7 }}.md", "src/two\nlines.txt", "src/\x1b]0;t\x07.txt", "src/'q\".txt"]
    # ('*', '?' and '[' would make an entry a glob, which the demo agent does not create)
    record = tmp_path / "received"
    control.write(manifest([[{"id": "h1", "issue": 7, "title": " ".join(texts), "body": big,
                              "files": files}]],
                           project=f"$(touch {marker});", agent="record",
                           agents={"record": agent_profile("record.py", str(record), "file",
                                                           "{prompt_file}")}))
    control.doit("launch")
    received = record / "h1.received"
    wait_for(received.exists, what="the agent to receive its prompt")
    prompt = (control.workdir / "runs" / "h1" / "attempt-1.prompt.md").read_bytes()
    assert received.read_bytes() == prompt
    text = prompt.decode()
    assert big in text, "the 1 MB body must arrive whole"
    for t in texts:
        assert t in text
    assert "# " + " ".join(texts) + "\n" in text, "the title must be the literal text"
    assert "looploop" not in text
    # the demo agent created and committed every file under its literal name
    worktree = control.workdir / "worktrees" / "h1"
    wait_for(lambda: "committed h1" in (control.workdir / "logs" / "h1.log").read_text(),
             what="the commit")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=worktree, capture_output=True,
                            check=True).stdout.decode().split("\0")
    assert set(files) <= set(listed)
    branch = control.status()["h1"]["branch"]
    assert branch.startswith("fix/issue-7-touch") and set(branch) <= set("abcdefghijklmnopqrstuvwxyz0123456789-/._")
    assert_nothing_ran(marker)
    assert not (worktree / "PWNED").exists() and not (control.path / "PWNED").exists()


@pytest.mark.parametrize("mode", ["argv", "stdin"])
def test_prompt_by_argv_or_stdin_arrives_byte_exact(control, marker, tmp_path, mode):
    record = tmp_path / "received"
    command = [sys.executable, str(AGENTS / "record.py"), str(record), mode]
    profile = {"command": command + (["{prompt}"] if mode == "argv" else []), "stdin": mode == "stdin"}
    body = "\n".join(hostile(marker)) * 50
    control.write(manifest([[{"id": "p1", "title": "; C-c $(x)", "body": body, "files": ["a"]}]],
                           agent="rec", agents={"rec": profile}))
    control.doit("launch")
    received = record / "p1.received"
    wait_for(received.exists, what="the agent to receive its prompt")
    assert received.read_bytes() == (control.workdir / "runs/p1/attempt-1.prompt.md").read_bytes()
    assert_nothing_ran(marker)


def test_a_prompt_too_long_for_argv_fails_clearly_instead_of_being_cut(control, tmp_path):
    record = tmp_path / "received"
    profile = {"command": [sys.executable, str(AGENTS / "record.py"), str(record), "argv", "{prompt}"]}
    control.write(manifest([[{"id": "big", "title": "big", "body": "x" * 300_000, "files": ["a"]}]],
                           agent="rec", agents={"rec": profile}))
    control.doit("launch")
    exit_file = control.workdir / "runs" / "big" / "attempt-1.exit"
    wait_for(exit_file.exists, what="the wrapper to record the exit")
    assert '"code": 126' in exit_file.read_text()
    log = control.workdir / "logs" / "big.log"
    wait_for(lambda: "too long for argv" in log.read_text(), what="the explanation in the log")
    assert not (record / "big.received").exists()


@pytest.mark.parametrize("bad_id", ["$(touch x)", "a;b", "a b", "C-c;", "{{7*7}}", "a.b", "a:b",
                                    "a=b", "-rf", "\x1b[31m"])
def test_hostile_ids_are_rejected_before_anything_runs(control, bad_id):
    control.write(manifest([[{"id": bad_id, "title": "x", "files": ["a"]}]]))
    result = control.doit("plan", check=False)
    assert result.returncode != 0
    assert "phases[0].tasks[0].id: " in result.stderr
    assert "cannot become a branch or tmux session name" in result.stderr
    assert "Traceback" not in result.stderr
    assert not control.workdir.exists()


def test_text_pasted_into_a_live_session_arrives_as_text_not_keys(control, marker, tmp_path):
    sink = tmp_path / "typed"
    control.write(manifest([[{"id": "e1", "title": "echo", "files": ["a"]}]], agent="echo",
                           agents={"echo": agent_profile("echo_stdin.py", str(sink))}))
    control.doit("launch")
    log = control.workdir / "logs" / "e1.log"
    wait_for(lambda: log.exists() and "echo-agent: ready" in log.read_text(), what="the agent")
    text = " ".join(hostile(marker)).replace("\n", " ")
    session = control.project().session_name("e1")
    control.project().runner.send(session, text)
    wait_for(lambda: sink.exists() and text.encode() in sink.read_bytes(), what="the pasted text")
    assert control.sessions()[session].dead is False, "C-c must not have reached the agent as a key"
    assert_nothing_ran(marker)


def test_tmux_runner_refuses_arguments_that_would_split_its_command(tmp_path):
    from taskorch.runners.tmux import TmuxError, TmuxRunner

    runner = TmuxRunner(f"taskorch-test-{tmp_path.name}", tmp_path / "tmux.conf")
    with pytest.raises(TmuxError, match="ends in ';'"):
        runner.start("s", [sys.executable, "-c", "print(1);"], tmp_path, tmp_path / "log")
    with pytest.raises(TmuxError, match="two or more"):
        runner.start("s", ["touch x"], tmp_path, tmp_path / "log")
    assert runner.snapshot() == {}
