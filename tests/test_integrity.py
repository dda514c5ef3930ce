"""Nothing lost, nothing unverified merged: the fault campaign's classes, on real tmux, git and
the doit CLI. Each agent here is a small script written by the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import DONE, manifest, push_to_main, wait_for

FAST = {"retry_backoff_seconds": 0, "hook": False}
DEMO = "from taskorch import demo_agent; import os; demo_agent.main([os.environ['TASKORCH_PROMPT_FILE']])"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
                          cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def scripted(tmp_path: Path, code: str) -> dict:
    """An agent profile running `code` (Python) in the task's worktree."""
    script = tmp_path / f"agent{abs(hash(code))}.py"
    script.write_text(code)
    return {"command": [sys.executable, str(script)]}


def one_task(control, remote, tmp_path, code: str, **top) -> None:  # type: ignore[no-untyped-def]
    task = {"id": "a", "title": "the task", "files": ["a.txt"], **top.pop("task", {})}
    control.write(manifest([[task]], repo=str(remote), agent="scripted",
                           agents={"scripted": scripted(tmp_path, code)}, **{**FAST, **top}))
    control.doit("launch")


def beat_until(control, states, timeout: float = 40) -> dict:  # type: ignore[no-untyped-def]
    def step():
        control.doit("heartbeat")
        row = control.status()["a"]
        return row if row["status"] in states else None
    return wait_for(step, timeout=timeout, interval=0.1, what=f"task a to be one of {states}")


def exited(control) -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: (control.workdir / "runs" / "a" / "attempt-1.exit").exists(),
             what="the agent to exit")


def remote_head(remote: Path, branch: str) -> str | None:
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                         cwd=remote, capture_output=True, text=True)
    return out.stdout.strip() or None


BRANCH = "task/a-the-task"


# --- the task branch, not HEAD -------------------------------------------------------------

def test_commits_on_a_detached_head_are_brought_onto_the_task_branch(control, remote, tmp_path):
    one_task(control, remote, tmp_path, "import subprocess\n"
             "subprocess.run(['git', 'checkout', '--quiet', '--detach'], check=True)\n" + DEMO)
    row = beat_until(control, {"pr_open", "merged"})
    pushed = remote_head(remote, BRANCH)
    assert pushed and "a.txt" in git(remote, "show", "--name-only", "--format=", pushed)
    assert row["status"] == "pr_open"


def test_commits_on_a_branch_that_drops_the_task_branch_fail_naming_them(control, remote, tmp_path):
    one_task(control, remote, tmp_path, DEMO + "\nimport subprocess\n"
             "subprocess.run(['git', 'checkout', '--quiet', '-b', 'elsewhere', 'HEAD~1'], check=True)\n"
             "open('b.txt', 'w').write('b')\n"
             "subprocess.run(['git', 'add', 'b.txt'], check=True)\n"
             "subprocess.run(['git', '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '-qm', 'b'], check=True)\n",
             max_attempts=1)
    row = beat_until(control, {"error"})
    assert "its commits are on branch elsewhere" in row["reason"]
    assert remote_head(remote, BRANCH) is None  # nothing was delivered


# --- delivery pinned to the verified commit --------------------------------------------------

def test_a_commit_made_after_verify_is_not_delivered(control, remote, tmp_path):
    one_task(control, remote, tmp_path, DEMO)
    exited(control)
    hidden = remote.with_name("remote-away.git")
    remote.rename(hidden)  # the push fails, so delivery is retried later
    beat_until(control, {"complete"})
    worktree = control.workdir / "worktrees" / "a"
    (worktree / "late.txt").write_text("never verified\n")
    git(worktree, "add", "late.txt")
    git(worktree, "commit", "-qm", "after verify")
    hidden.rename(remote)
    row = beat_until(control, {"pr_open"})
    pushed = remote_head(remote, BRANCH)
    assert pushed == git(worktree, "rev-parse", "HEAD~1")
    assert "was not verified and is not delivered" in row["reason"]


def test_skip_of_a_running_task_delivers_nothing(control, remote, tmp_path):
    one_task(control, remote, tmp_path, "import time\nopen('a.txt', 'w').write('wip')\n"
             "time.sleep(300)\n")
    control.doit("skip", "a")
    for _ in range(2):
        control.doit("heartbeat")
    assert control.status()["a"]["status"] == "skipped"
    assert remote_head(remote, BRANCH) is None


def test_retry_of_a_merged_task_is_refused(control, remote, tmp_path):
    one_task(control, remote, tmp_path, DEMO, merge="auto")
    beat_until(control, {"merged"})
    out = control.doit("retry", "a", check=False)
    assert out.returncode != 0  # a refusal (issue 10); it exited 0 before
    assert "retry: a is merged: its work is on main; nothing to retry" in out.stderr
    assert control.status()["a"]["status"] == "merged"


# --- nothing lost silently -----------------------------------------------------------------------

def test_a_reset_after_a_seen_commit_is_reported_as_lost_with_its_sha(control, remote, tmp_path):
    go = tmp_path / "go"
    one_task(control, remote, tmp_path, DEMO + "\nimport pathlib, subprocess, time\n"
             f"go = pathlib.Path({str(go)!r})\n"
             "while not go.exists(): time.sleep(0.05)\n"
             "subprocess.run(['git', 'reset', '--quiet', '--hard', 'HEAD~1'], check=True)\n",
             max_attempts=1)
    clone = control.workdir / "repo"
    base = git(clone, "rev-parse", "origin/main")
    seen = wait_for(lambda: (h := git(clone, "rev-parse", BRANCH)) != base and h,
                    what="the agent's commit")
    control.doit("heartbeat")  # sees the commit while the agent runs
    go.touch()
    row = beat_until(control, {"error"})
    assert f"lost its work: commit(s) {seen[:8]}" in row["reason"]
    assert "nothing was done" not in row["reason"]
    assert git(clone, "cat-file", "-t", seen) == "commit"  # recoverable: still referenced
    assert seen in git(clone, "for-each-ref", "--format=%(objectname)", "refs/taskorch/a/seen/")


# --- leftovers ------------------------------------------------------------------------------------

def test_leftovers_exclude_secrets_core_dumps_big_files_and_files_outside_the_task(control, remote,
                                                                                     tmp_path):
    one_task(control, remote, tmp_path, "import os\n"
             "open('a.txt', 'w').write('the work\\n')\n"
             "open('.env', 'w').write('API_KEY=sk-live-123\\n')\n"
             "open('core', 'wb').write(b'\\0' * 1024)\n"
             "open('big.bin', 'wb').write(os.urandom(6 * 1024 * 1024))\n"
             "open('other.txt', 'w').write('written by someone else\\n')\n",
             task={"files": ["a.txt", "big.bin"]})
    row = beat_until(control, {"pr_open"})
    tree = git(remote, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert "a.txt" in tree
    assert not {".env", "core", "big.bin", "other.txt"} & set(tree)
    for words in (".env (looks like a secret)", "core (looks like a core dump)",
                  "big.bin (6 MB, over the 5 MB limit)", "other.txt (outside the task's files)"):
        assert words in row["reason"] or words in control.doit("status", "--task", "a").stdout
    assert (control.workdir / "worktrees" / "a" / ".env").exists()  # refused, not deleted


def test_a_file_another_task_wrote_is_not_this_tasks_work(control, remote, tmp_path):
    # b's agent does nothing; a file lands in its worktree from outside (task a, say)
    one_task(control, remote, tmp_path, "open('src_of_a.py', 'w').write('not mine')\n",
             max_attempts=1)
    row = beat_until(control, {"error"})
    assert "nothing was done" in row["reason"] and "src_of_a.py (outside the task's files)" in row["reason"]
    assert remote_head(remote, BRANCH) is None


# --- the agent's git config and hooks never run in taskorch's git ---------------------------------

def test_hooks_and_fsmonitor_planted_by_an_agent_do_not_run_in_taskorchs_git(control, remote,
                                                                            tmp_path):
    marker = tmp_path / "planted"
    one_task(control, remote, tmp_path, DEMO + "\nimport os, pathlib, subprocess\n"
             f"marker = {str(marker)!r}\n"
             "subprocess.run(['git', 'config', 'core.fsmonitor', f'touch {marker}.fsmonitor; false'], check=True)\n"
             "common = pathlib.Path(subprocess.run(['git', 'rev-parse', '--git-common-dir'], "
             "capture_output=True, text=True).stdout.strip())\n"
             "(common / 'hooks').mkdir(exist_ok=True)\n"
             "for name in ('pre-push', 'post-commit', 'reference-transaction', 'post-checkout'):\n"
             "    hook = common / 'hooks' / name\n"
             "    hook.write_text(f'#!/bin/sh\\ntouch {marker}.{name}\\n')\n"
             "    hook.chmod(0o755)\n"
             "open('a.txt', 'a').write('left uncommitted\\n')\n")
    beat_until(control, {"pr_open"})
    assert sorted(p.name for p in tmp_path.glob("planted*")) == []


# --- a remote that never answers ------------------------------------------------------------------

@pytest.fixture
def silent_server():  # type: ignore[no-untyped-def]
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_remote_does_not_wedge_the_heartbeat(control, remote, tmp_path, silent_server):
    one_task(control, remote, tmp_path, DEMO)
    exited(control)
    git(control.workdir / "repo", "remote", "set-url", "origin",
        f"http://127.0.0.1:{silent_server}/repo.git")
    # a change the user means: made to taskorch's kept copy too, so it is not put back
    (control.workdir / "clone.config").write_bytes(
        (control.workdir / "repo" / ".git" / "config").read_bytes())
    control.env["TASKORCH_REMOTE_TIMEOUT"] = "2"
    started = time.monotonic()
    out = control.doit("heartbeat", timeout=60).stdout
    assert time.monotonic() - started < 45  # before: the fetch never returned
    assert "no answer in 2 s" in out
    second = control.doit("heartbeat", timeout=60).stdout
    assert "another heartbeat is running" not in second  # the lock was let go
    assert control.status()["a"]["status"] in DONE


# --- verify ---------------------------------------------------------------------------------------

def test_a_verify_that_leaves_a_background_child_does_not_block_or_outlive_it(control, remote,
                                                                              tmp_path):
    pidfile = tmp_path / "child.pid"
    one_task(control, remote, tmp_path, DEMO,
             task={"verify": f"sleep 300 & echo $! > {pidfile}; exit 0"},
             verify_timeout_minutes=5)
    exited(control)
    started = time.monotonic()
    beat_until(control, DONE)
    assert time.monotonic() - started < 30  # before: it waited for the child's end of the pipe
    pid = int(pidfile.read_text())
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or
             Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", what="the child to be gone")


# --- push: early, then an amend -----------------------------------------------------------------

def test_a_rejected_push_after_an_amend_says_why(control, remote, tmp_path):
    go = tmp_path / "go"
    one_task(control, remote, tmp_path, DEMO + "\nimport pathlib, subprocess, time\n"
             f"go = pathlib.Path({str(go)!r})\n"
             "while not go.exists(): time.sleep(0.05)\n"
             "open('a.txt', 'a').write('amended\\n')\n"
             "subprocess.run(['git', 'add', 'a.txt'], check=True)\n"
             "subprocess.run(['git', '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', "
             "'--amend', '-qm', 'amended'], check=True)\n",
             push="early")
    wait_for(lambda: control.doit("heartbeat") and remote_head(remote, BRANCH),
             what="the early push", interval=0.3)
    go.touch()
    def rejected():  # type: ignore[no-untyped-def]
        control.doit("heartbeat")
        row = control.status()["a"]
        return row["status"] == "complete" and "push of" in row["reason"] and row
    row = wait_for(rejected, timeout=40, what="the push to be refused")
    assert "history rewritten after an earlier push" in row["reason"]


# --- a lost state store, a force-pushed base ------------------------------------------------

def lose_state(control) -> None:  # type: ignore[no-untyped-def]
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (control.workdir / name).unlink(missing_ok=True)


def test_a_lost_state_store_is_rebuilt_and_merged_work_does_not_run_again(control, remote,
                                                                           tmp_path):
    one_task(control, remote, tmp_path, DEMO, merge="auto")
    beat_until(control, {"merged"})
    lose_state(control)
    row = control.status()["a"]
    assert row["status"] == "merged" and "rebuilt after the state store was lost" in row["reason"]
    control.doit("launch")
    control.doit("heartbeat")
    log = git(remote, "log", "--format=%s", "main")
    assert log.count("a: the task") == 1  # before: seeded pending, launched and merged twice


def test_a_lost_state_store_adopts_a_running_agent_and_keeps_unmerged_work(control, remote,
                                                                           tmp_path):
    go = tmp_path / "go"
    one_task(control, remote, tmp_path, DEMO + "\nimport pathlib, time\n"
             f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.05)\n")
    clone = control.workdir / "repo"
    base = git(clone, "rev-parse", "origin/main")
    wait_for(lambda: git(clone, "rev-parse", BRANCH) != base, what="the agent's commit")
    lose_state(control)
    row = control.status()["a"]
    assert row["status"] == "running" and row["session"] == control.project().session_name("a")
    control.doit("launch")
    assert control.status()["a"]["attempts"] == 1  # not started a second time
    go.touch()
    assert beat_until(control, {"pr_open"})["status"] == "pr_open"


def test_a_force_push_that_drops_merged_work_is_noticed_and_delivered_again(control, remote,
                                                                            tmp_path):
    one_task(control, remote, tmp_path, DEMO, merge="auto")
    beat_until(control, {"merged"})
    seed = git(remote, "rev-list", "--max-parents=0", "main")
    git(remote, "update-ref", "refs/heads/main", seed)  # a person's force-push
    (control.workdir / "base-checked").unlink()  # as five minutes passing would
    control.doit("heartbeat")
    events = control.doit("status", "--task", "a").stdout
    assert "is no longer on main: the base was force-pushed" in events
    beat_until(control, {"merged"})
    assert "a.txt" in git(remote, "ls-tree", "--name-only", "main")


def test_a_slow_verify_runs_off_the_lock_and_its_result_decides(control, remote, tmp_path):
    go = tmp_path / "go"
    one_task(control, remote, tmp_path, DEMO,
             task={"verify": f"while [ ! -e {go} ]; do sleep 0.05; done; exit 3"}, max_attempts=1)
    exited(control)
    for _ in range(3):  # each tick returns at once, while the verify command keeps running
        started = time.monotonic()
        out = control.doit("heartbeat", timeout=60).stdout
        assert time.monotonic() - started < 20, out
        assert "another heartbeat is running" not in out
    assert control.status()["a"]["status"] == "running"
    assert "in the background" in control.doit("status", "--task", "a").stdout
    go.touch()
    row = beat_until(control, {"error"})
    assert "verify `while" in row["reason"] and "exited 3" in row["reason"]


# --- the clock --------------------------------------------------------------------------------

def test_a_retry_time_pushed_far_ahead_by_a_clock_jump_is_due_now(control, remote, tmp_path):
    # a 2 s backoff stored, then the clock went back three hours: it read as 3 h to wait
    import sqlite3
    one_task(control, remote, tmp_path, "import sys\nsys.exit(1)\n", max_attempts=3)
    row = beat_until(control, {"error", "running"})
    assert row["attempts"] >= 1
    ahead = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 3600))
    db = sqlite3.connect(control.workdir / "state.db")
    with db:
        db.execute("UPDATE tasks SET status='error', retry_at=?, attempts=1 WHERE id='a'", (ahead,))
    db.close()
    control.doit("heartbeat")
    assert control.status()["a"]["attempts"] == 2  # restarted now, not in three hours


def test_a_stale_index_lock_shows_in_status_not_only_in_the_heartbeat_log(control, remote,
                                                                        tmp_path):
    one_task(control, remote, tmp_path, "open('a.txt', 'w').write('left uncommitted\\n')\n")
    exited(control)
    worktree = control.workdir / "worktrees" / "a"
    gitdir = Path(git(worktree, "rev-parse", "--absolute-git-dir"))
    (gitdir / "index.lock").write_text("")  # a git that was killed mid-write
    control.doit("heartbeat")
    row = control.status()["a"]
    assert row["status"] == "running" and "index.lock" in row["reason"]
    (gitdir / "index.lock").unlink()
    assert beat_until(control, DONE)["status"] in DONE


def test_commits_outside_the_declared_files_are_reported_in_status_and_the_pr(control, remote,
                                                                            tmp_path):
    one_task(control, remote, tmp_path, "import subprocess\n"
             "open('a.txt', 'w').write('mine\\n')\n"
             "open('setup.cfg', 'w').write('not declared\\n')\n"
             "subprocess.run(['git', 'add', '-A'], check=True)\n"
             "subprocess.run(['git', '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '-qm', 'w'], check=True)\n")
    row = beat_until(control, {"pr_open"})
    assert "changed files outside its declared files: setup.cfg" in \
        control.doit("status", "--task", "a").stdout
    assert row["status"] == "pr_open"


def test_a_gh_that_never_answers_does_not_wedge_the_heartbeat(control, remote, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text("#!/bin/sh\nexec sleep 600\n")  # GitHub accepting and never answering
    gh.chmod(0o755)
    control.env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", TASKORCH_REMOTE_TIMEOUT="2")
    one_task(control, remote, tmp_path, DEMO, forge="github")
    exited(control)
    started = time.monotonic()
    out = control.doit("heartbeat", timeout=60).stdout
    assert time.monotonic() - started < 45
    assert "no answer in 2 s" in out
    assert control.status()["a"]["status"] == "complete"  # verified, delivered later


def test_a_merge_auto_conflict_names_the_files(control, remote, tmp_path):
    one_task(control, remote, tmp_path, DEMO, merge="auto", reactions={"conflict": "notify"})
    exited(control)
    push_to_main(remote, tmp_path / "person", "a.txt", "the person's own line\n")
    row = wait_for(lambda: control.doit("heartbeat") and "a person decides" in (
        r := control.peek()["a"])["reason"] and r, timeout=40, what="merge: auto to give up", interval=0.3)
    assert row["status"] == "pr_open" and "conflicts in a.txt" in row["reason"]


def test_a_deleted_git_file_in_a_worktree_is_relinked_and_its_work_kept(control, remote,
                                                                         tmp_path):
    one_task(control, remote, tmp_path, "open('a.txt', 'w').write('work in progress\\n')\n"
             "import sys\nsys.exit(1)\n", max_attempts=2)
    exited(control)
    worktree = control.workdir / "worktrees" / "a"
    (worktree / ".git").unlink()  # a careless cleanup inside the worktree
    row = beat_until(control, {"error", "running"})
    wait_for(lambda: control.doit("heartbeat") and control.peek()["a"]["attempts"] == 2,
             what="the retry", interval=0.3)
    assert (worktree / ".git").is_file() and "work in progress" in (worktree / "a.txt").read_text()
    assert row


def test_an_edit_inside_a_submodule_is_named_not_wedged(control, tmp_path):
    # a repository with a submodule; the agent edits inside it and commits nothing
    lib = tmp_path / "lib.git"
    seed = tmp_path / "seed2"
    remote = tmp_path / "withsub.git"
    for bare in (lib, remote):
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "--initial-branch=main", str(seed)], check=True)
    (seed / "README.md").write_text("lib\n")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "lib")
    git(seed, "push", "-q", str(lib), "HEAD:main")
    git(seed, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib")
    git(seed, "commit", "-qm", "with a submodule")
    git(seed, "push", "-q", str(remote), "HEAD:main")
    code = ("import subprocess\n"
            "subprocess.run(['git', '-c', 'protocol.file.allow=always', 'submodule', 'update', "
            "'--init', '-q'], check=True)\n"
            "open('vendor/lib/README.md', 'a').write('edited inside\\n')\n")
    one_task(control, remote, tmp_path, code, max_attempts=1, task={"files": ["vendor"]})
    row = beat_until(control, {"error"})
    assert "vendor/lib (a submodule: commit inside it" in row["reason"]


def test_an_agent_cannot_redirect_taskorchs_push_through_the_clones_config(control, remote,
                                                                         tmp_path):
    elsewhere = tmp_path / "elsewhere.git"
    subprocess.run(["git", "init", "-q", "--bare", str(elsewhere)], check=True)
    one_task(control, remote, tmp_path, DEMO + "\nimport subprocess\n"
             f"subprocess.run(['git', 'config', 'remote.origin.pushurl', {str(elsewhere)!r}], check=True)\n"
             "subprocess.run(['git', 'config', 'remote.origin.uploadpack', 'touch PLANTED; git-upload-pack'], check=True)\n")
    exited(control)
    out = control.doit("heartbeat").stdout
    assert "the clone's .git/config was changed" in out and "pushurl" in out
    beat_until(control, {"pr_open"})
    assert remote_head(remote, BRANCH) and remote_head(elsewhere, BRANCH) is None
    assert not list(control.workdir.rglob("PLANTED"))


# --- aider: no leftover makes a no-op run complete (issue 9, part 6) -----------------------------

AIDER_HISTORY = ("import os\n"
                 "open('.aider.chat.history.md', 'w').write('# aider chat started\\n')\n"
                 "open('.aider.input.history', 'w').write('+Add hello\\n')\n"
                 "os.makedirs('.aider.tags.cache.v4', exist_ok=True)\n"
                 "open('.aider.tags.cache.v4/cache.db', 'wb').write(b'SQLite')\n")
AIDER_GITIGNORE = "open('.gitignore', 'a').write('.aider*\\n')\n"
AIDER_COMMITS_IT = ("import subprocess\n"
                    "subprocess.run(['git', '-c', 'user.name=aider', '-c', 'user.email=a@a.invalid',"
                    " 'commit', '-qm', 'Add .aider* to .gitignore', '--', '.gitignore'], check=True)\n")


@pytest.mark.parametrize("shape, code", [
    ("adds .aider* to .gitignore", AIDER_HISTORY + AIDER_GITIGNORE),
    ("--no-gitignore: its files untracked", AIDER_HISTORY),
    ("commits .gitignore itself", AIDER_HISTORY + AIDER_GITIGNORE
     + "subprocess = __import__('subprocess')\n"
     + "subprocess.run(['git', 'add', '.gitignore'], check=True)\n" + AIDER_COMMITS_IT),
])
def test_an_aider_no_op_that_exits_0_is_nothing_done(control, remote, tmp_path, shape, code):
    # aider exits 0 after an API failure or a question, leaving only its own files behind. A
    # task that lists no files would take anything left as its work.
    one_task(control, remote, tmp_path, code + "print('litellm.RateLimitError: 429')\n",
             task={"files": []}, max_attempts=1)
    row = beat_until(control, {"error", "complete", "pr_open", "merged"})
    assert row["status"] == "error", (shape, row["reason"])
    assert "nothing was done" in row["reason"], row["reason"]
    assert "aider's own files" in row["reason"] or "only change .gitignore" in row["reason"]
    assert remote_head(remote, BRANCH) is None
    assert (control.workdir / "worktrees" / "a" / ".aider.chat.history.md").exists()  # untouched


@pytest.mark.parametrize("files", [[], ["a.txt"]])
def test_aider_work_beside_its_own_files_commits_only_the_work(control, remote, tmp_path, files):
    one_task(control, remote, tmp_path,
             AIDER_HISTORY + AIDER_GITIGNORE + "open('a.txt', 'w').write('hello\\n')\n",
             task={"files": files})
    row = beat_until(control, {"pr_open"})
    tree = git(remote, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert sorted(set(tree) - {"README.md"}) == ["a.txt"], tree
    assert "nothing was done" not in row["reason"]


def test_a_gitignore_change_alone_is_not_work_unless_the_task_names_it(control, remote, tmp_path):
    one_task(control, remote, tmp_path, "open('.gitignore', 'a').write('build/\\n')\n",
             task={"files": []}, max_attempts=1)
    row = beat_until(control, {"error", "complete", "pr_open", "merged"})
    assert row["status"] == "error" and "nothing was done" in row["reason"], row["reason"]
    assert ".gitignore (a .gitignore change alone is not work)" in row["reason"]
    assert remote_head(remote, BRANCH) is None


def test_a_task_that_names_gitignore_may_change_it(control, remote, tmp_path):
    one_task(control, remote, tmp_path, "open('.gitignore', 'a').write('build/\\n')\n",
             task={"files": [".gitignore"]})
    beat_until(control, {"pr_open"})
    assert git(remote, "ls-tree", "-r", "--name-only", BRANCH).split() == [".gitignore", "README.md"]
