"""Small defects an operator trips over: each test here failed before its fix."""

from __future__ import annotations

import json
import os
import re
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import manifest, wait_for

FIXTURES = Path(__file__).parent / "fixtures"


def plan_waits(control) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    out = json.loads(control.doit("plan", "--format", "json").stdout)
    return {t["id"]: {w["id"] for w in t["waitsFor"]} for t in out["tasks"]}


def test_double_star_slash_also_matches_zero_directories(control):
    control.write(manifest([[{"id": "all", "title": "x", "files": ["**/*.py"]},
                             {"id": "setup", "title": "x", "files": ["setup.py"]},
                             {"id": "src", "title": "x", "files": ["src/**/*.py"]},
                             {"id": "a", "title": "x", "files": ["src/a.py"]},
                             {"id": "doc", "title": "x", "files": ["README.md"]}]]))
    waits = plan_waits(control)
    assert "all" in waits["setup"]
    assert "src" in waits["a"]
    assert waits["doc"] == set()


INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f" \
            "\u2028\u2029\ufeff\u061c"


def test_bidi_and_zero_width_characters_are_shown_escaped(control):
    control.write(manifest([[{"id": "t1", "title": f"fix{INVISIBLE}login", "files": ["a"]}]]))
    out = control.doit("plan").stdout
    assert "fix\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u200b" in out
    assert "\\u2028\\u2029\\ufeff\\u061clogin" in out
    assert not any(char in out for char in INVISIBLE), repr(out)


def one_task(control) -> None:  # type: ignore[no-untyped-def]
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]]))


def test_a_state_store_that_is_not_a_database_is_named_with_what_to_do(control):
    one_task(control)
    control.doit("status")
    state_db = control.workdir / "state.db"
    state_db.write_bytes(b"this is not an SQLite database\n" * 200)
    for verb in ("status", "launch", "heartbeat"):
        result = control.doit(verb, check=False)
        assert result.returncode != 0, verb
        assert "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(state_db) in lines[0] and "not a database" in lines[0], lines[0]
        assert f"mv {state_db} {state_db}.damaged" in lines[0], lines[0]
    state_db.rename(control.workdir / "state.db.damaged")
    assert control.status()["a"]["status"] == "pending"


def on_a_full_disk(control, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    """`doit ARGS` where every write past 512 bytes fails as on a full disk (a file-size limit,
    SIGXFSZ ignored, so the write returns an error instead of killing doit)."""
    return subprocess.run(["sh", "-c", 'ulimit -f 1; trap "" XFSZ; exec "$0" -m doit "$@"',
                           sys.executable, *args], cwd=control.path, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_a_state_store_on_a_full_disk_is_named(control):
    one_task(control)
    control.doit("status")
    result = on_a_full_disk(control, "skip", "a")
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"taskorch: skip: cannot use the state store {control.workdir / 'state.db'} (disk I/O "
        "error): free space on its disk or fix the disk, then run the command again"]


def test_status_on_a_full_disk_is_one_line_not_a_traceback(control):
    # doit wrote its own dependency file at the end of every run, status too: on a full disk
    # that was a traceback; read-only verbs now keep it in memory
    one_task(control)
    control.doit("status")
    result = on_a_full_disk(control, "status")
    said = result.stdout + result.stderr
    assert "Traceback" not in said and "doit.db" not in said, said
    assert len(result.stderr.strip().splitlines()) <= 1, result.stderr


def test_a_failing_verb_names_itself_once(control):
    one_task(control)
    for argv in (("stop", "nosuch"), ("status", "--task", "nosuch")):
        result = control.doit(*argv, check=False)
        assert result.returncode != 0
        assert result.stderr == f"taskorch: {argv[0]}: no task 'nosuch' in orchestrator.yaml\n"


def test_import_hint_repeats_the_issues_file(control, remote, tmp_path):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["README.md"]}]], repo=str(remote)))
    issues = tmp_path / "my issues.json"
    issues.write_text(json.dumps([{"number": 9, "title": "Fix the readme", "body": "README.md",
                                   "labels": []}]))
    out = control.doit("import", "--from", str(issues)).stdout
    assert f"run `doit import --from '{issues}' --write` to apply this diff" in out
    control.doit("import", "--from", str(issues), "--write")
    assert "i9" in control.status()


def test_an_empty_remote_asks_for_a_first_commit_not_another_base(control, tmp_path):
    empty = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(empty)], check=True)
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]], repo=str(empty)))
    result = control.doit("launch", check=False)
    assert result.returncode != 0
    # one line, naming the task once (not `launch:a: a:`, nor a second `launch: launch:a`)
    errors = [line for line in result.stderr.splitlines() if "clon" not in line]  # progress
    assert errors == [
        "taskorch: launch:a: the repository has no commits yet; push a first commit to its 'main' "
        "branch (e.g. git commit --allow-empty -m start && git push origin HEAD:main), then run "
        "the command again"], result.stderr


def test_cleanup_all_with_the_control_directory_as_workdir_keeps_the_users_files(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]], workdir=".",
                           retry_backoff_seconds=0))
    (control.path / "notes.txt").write_text("mine\n")
    control.doit("launch")
    assert (control.path / "repo" / ".git").exists() and (control.path / "state.db").exists()
    out = control.doit("cleanup", "--all", "--yes", "--force").stdout
    assert "kept" in out and "notes.txt" in out and "orchestrator.yaml" in out, out
    for kept in ("orchestrator.yaml", "dodo.py", "prompts/task.md.j2", "notes.txt"):
        assert (control.path / kept).exists(), kept
    assert (control.path / "notes.txt").read_text() == "mine\n"
    for gone in ("repo", "worktrees", "logs", "runs", "state.db", "doit.db", "lock", "tmux.conf"):
        assert not (control.path / gone).exists(), gone
    assert control.sessions() == {}


def test_cleanup_all_keeps_files_taskorch_did_not_make_in_its_work_directory(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]]))
    control.doit("launch")
    (control.workdir / "my-backup.tar").write_text("precious\n")
    out = control.doit("cleanup", "--all", "--yes", "--force").stdout
    assert "my-backup.tar" in out, out
    assert (control.workdir / "my-backup.tar").read_text() == "precious\n"
    assert sorted(p.name for p in control.workdir.iterdir()) == ["my-backup.tar"]


def test_cleanup_all_removes_a_work_directory_that_holds_only_taskorchs_files(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]]))
    control.doit("launch")
    out = control.doit("cleanup", "--all", "--yes", "--force").stdout
    assert "kept" not in out, out
    assert not control.workdir.exists()


def many_tasks(control) -> None:  # type: ignore[no-untyped-def]
    # far more output than a pipe holds, so doit is still writing when `head` has left
    control.write(manifest([[{"id": f"t{i}", "title": f"task {i} " + "x" * 200, "files": [f"f{i}"]}
                             for i in range(500)]]))


def test_a_reader_that_leaves_early_ends_the_output_quietly(control, tmp_path):
    many_tasks(control)
    control.doit("status")
    err, code = tmp_path / "stderr", tmp_path / "status"
    for verb in ("plan", "plan --format json", "status", "status --format json"):
        head = subprocess.run(
            ["sh", "-c", f'{{ "$0" -m doit {verb} 2>"$1"; echo $? >"$2"; }} | head -1',
             sys.executable, str(err), str(code)],
            cwd=control.path, capture_output=True, text=True, timeout=120)
        assert head.stdout.count("\n") == 1, (verb, head.stdout)
        assert (code.read_text(), err.read_text()) == ("0\n", ""), verb


def read_until(fd: int, wanted: bytes, seen: bytearray) -> bool:
    """Read what the pty has; True once `wanted` has arrived or the other side closed."""
    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child has exited and closed its side
            return True
        if not chunk:
            return True
        seen += chunk
    return wanted in seen


def drain(fd: int, seen: bytearray) -> None:
    """Read all the pty holds after the child has exited (then reads fail with EIO)."""
    while select.select([fd], [], [], 10)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        seen += chunk


def test_ctrl_c_at_a_prompt_ends_with_one_line_and_status_130(control):
    one_task(control)
    control.doit("status")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "doit", "cleanup", "--all"], cwd=control.path,
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    os.close(follower)
    seen = bytearray()
    try:
        wait_for(lambda: read_until(leader, b"Type yes: ", seen), timeout=60, what="the prompt")
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends; input() is blocked reading the pty
        assert proc.wait(timeout=60) == 130
        drain(leader, seen)
    finally:
        proc.kill()
        os.close(leader)
    said = seen.decode(errors="replace")
    assert "Traceback" not in said and "KeyboardInterrupt" not in said, said
    assert said.split("Type yes: ", 1)[1].strip() == "taskorch: interrupted", said
    assert control.workdir.exists()


@pytest.mark.parametrize("repo,words", [("../nowhere", "local path ../nowhere does not exist"),
                                        (".", "is not a git repository")])
def test_plan_checks_a_local_repo_exists(control, repo, words):
    control.write(manifest([[{"id": "t1", "title": "x", "files": ["a"]}]], repo=repo))
    result = control.doit("plan", check=False)
    assert result.returncode != 0
    assert re.search(rf"orchestrator.yaml:\d+: repo: .*{re.escape(words)}", result.stderr + result.stdout)


def test_a_clone_says_what_it_is_doing_and_how_long_it_took(control, remote):
    control.write(manifest([[{"id": "t1", "title": "x", "files": ["a"]}]], repo=str(remote)))
    result = control.doit("launch")
    said = result.stderr + result.stdout
    assert re.search(rf"cloning {re.escape(str(remote))} into .*repo \(once\)", said)
    assert re.search(r"cloned in \d+ s", said)
    assert "cloning" not in control.doit("launch").stderr  # once


def test_status_rows_fit_a_100_column_terminal(control):
    long_title = "Reject configuration paths that point outside of the project directory tree"
    control.write(manifest([[{"id": f"task{i}", "issue": 1000 + i, "title": long_title,
                              "files": [f"src/{i}.py"], "dependsOn": [f"task{i - 1}"] if i else []}
                             for i in range(3)]]))
    control.doit("launch")
    import fcntl
    import struct
    import termios
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "doit", "status"], cwd=control.path,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                            env={**env, "PYTHONDONTWRITEBYTECODE": "1"})
    os.close(follower)
    seen = bytearray()
    try:
        proc.wait(timeout=60)
        drain(leader, seen)
    finally:
        os.close(leader)
    lines = seen.decode(errors="replace").replace("\r", "").splitlines()
    assert any(line.startswith("task1") for line in lines), lines
    assert all(len(line) <= 100 for line in lines), [len(line) for line in lines]
    piped = control.doit("status").stdout  # a script reading it gets whole reasons
    assert any(len(line) > 100 for line in piped.splitlines())


def test_a_big_status_lists_what_moves_and_counts_the_rest(control):
    # 250 tasks in one chain: one runs, 249 are blocked; --all lists every one
    control.write(manifest([[{"id": f"c{i}", "title": "x", "files": [f"f{i}"],
                              **({"dependsOn": [f"c{i - 1}"]} if i else {})} for i in range(250)]]))
    before = control.doit("status").stdout  # gates worked out now, not as last recorded
    assert "249 more not listed (249 blocked)" in before and "249 blocked, 1 pending" in before
    control.doit("heartbeat")
    table = control.doit("status").stdout
    listed = [line.split()[0] for line in table.splitlines() if line.startswith("c")]
    assert listed == ["c0"]
    assert "249 more not listed (249 blocked); `doit status --all` lists every task" in table
    assert "250 tasks: 249 blocked, 1 running" in table  # the heartbeat launched c0
    every = control.doit("status", "--all").stdout
    assert len([line for line in every.splitlines() if line.startswith("c")]) == 250
