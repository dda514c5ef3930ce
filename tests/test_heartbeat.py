"""The heartbeat on real tmux and git, one scripted agent per path it must handle."""

from __future__ import annotations

import sys

from conftest import DONE, agent_profile, manifest, wait_for

FAST = {"stall_minutes": 0.03, "retry_backoff_seconds": 0, "hook": False}


def beat_until(control, predicate, timeout: float = 40, what: str = "the heartbeat to get there",
               interval: float = 0.3):
    """Run `doit heartbeat` until predicate(status) holds; return the status (read in process:
    control.peek). Each round is a doit process (about 0.35 s of CPU): tests waiting on real
    agents, which take seconds, pass a longer `interval`, so as not to take the CPU their agents
    need."""
    def step():
        control.doit("heartbeat")
        status = control.peek()
        return status if predicate(status) else None
    return wait_for(step, timeout=timeout, interval=interval, what=what)


def journal(control, task_id: str) -> list[tuple[str, str]]:
    import sqlite3
    db = sqlite3.connect(control.workdir / "state.db")
    return db.execute("SELECT new, reason FROM events WHERE task=? ORDER BY seq", (task_id,)).fetchall()


def story(control, task_id: str) -> str:
    """The task's journal and its attempts' hook records, as one string: an assertion message
    that is a string is printed whole, where a tuple's repr is cut (a CI failure read nothing
    past its first line)."""
    lines = [f"{new}: {reason}" for new, reason in journal(control, task_id)]
    for record in sorted((control.workdir / "runs" / task_id).glob("attempt-*.hooks.jsonl")):
        lines += [f"{record.name}: {line}" for line in record.read_text().splitlines()]
    return "\n".join(lines)


def completed_reason(control, task_id: str) -> str:
    return next(reason for new, reason in journal(control, task_id) if new == "complete")


def one_task(control, agent: dict, **extra) -> None:  # type: ignore[no-untyped-def]
    task = {"id": "a", "title": "the task", "files": ["a.txt"], **extra.pop("task", {})}
    control.write(manifest([[task]], agent="scripted", agents={"scripted": agent}, **{**FAST, **extra}))
    control.doit("launch")


def test_an_agent_that_commits_and_exits_0_becomes_complete(control):
    one_task(control, {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"]})
    status = beat_until(control, lambda s: s["a"]["status"] in DONE)
    assert "verified: 1 commit(s) beyond its base" in completed_reason(control, "a")
    assert status["a"]["completedAt"]
    assert control.project().session_name("a") not in control.sessions()  # finished: cleaned up


def test_an_allowlisted_question_is_answered_then_the_agent_finishes(control, tmp_path):
    record = tmp_path / "answers"
    one_task(control, {**agent_profile("ask.py", str(record), "Trust this folder? (y/n)", "y"),
                       "answers": [{"match": r"Trust this folder\? \(y/n\)", "send": "y"}]})
    beat_until(control, lambda s: s["a"]["status"] in DONE)
    assert record.read_text() == "y\n"
    assert any("answered 'Trust this folder? (y/n)' with 'y' + Enter" in r for _, r in journal(control, "a"))


def test_an_agent_blocked_reading_its_terminal_is_waiting_without_patterns(control, tmp_path):
    # a custom profile that knows no question patterns: before, it stayed `running` until the
    # 20-minute stall; its process blocked in read() on the terminal says it is asking
    record = tmp_path / "answers"
    one_task(control, agent_profile("ask.py", str(record), "Delete every file? (y/n)", "y"),
             stall_minutes=20)
    status = beat_until(control, lambda s: s["a"]["status"] == "stuck", timeout=30)
    assert status["a"]["reason"] == "waiting for input: Delete every file? (y/n)"
    assert not record.exists()


def test_an_unknown_question_makes_the_task_stuck_and_is_never_answered(control, tmp_path):
    record = tmp_path / "answers"
    one_task(control, {**agent_profile("ask.py", str(record), "Delete all files? (y/n)", "y"),
                       "waiting": [r"\(y/n\)"],
                       "answers": [{"match": r"Trust this folder", "send": "y"}]})
    status = beat_until(control, lambda s: s["a"]["status"] == "stuck")
    assert status["a"]["reason"] == "waiting for input: Delete all files? (y/n)"
    for _ in range(3):
        control.doit("heartbeat")
    assert control.status()["a"]["status"] == "stuck"
    assert not record.exists(), "an unknown question must never be answered"
    assert not control.sessions()[control.project().session_name("a")].dead


def test_a_failure_is_retried_with_the_error_in_the_new_prompt(control):
    one_task(control, agent_profile("fail_once.py"))
    status = beat_until(control, lambda s: s["a"]["status"] in DONE)
    assert status["a"]["attempts"] == 2
    retry_prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert "(attempt 2 of 3)" in retry_prompt and "exited 1" in retry_prompt
    assert "XYZZY-42: the widget registry is missing" in retry_prompt
    states = [new for new, _ in journal(control, "a")]
    started = [state for state in states if state not in ("pending", "blocked")]
    assert started[:4] == ["running", "error", "running", "complete"]


def test_failures_stop_after_max_attempts(control):
    one_task(control, agent_profile("fail.py", "3"), max_attempts=2)
    status = beat_until(control, lambda s: s["a"]["status"] == "error"
                        and "gave up" in s["a"]["reason"])
    assert status["a"]["attempts"] == 2
    assert "exited 3; gave up after 2 attempts (`doit retry a` starts it again)" in status["a"]["reason"]
    control.doit("heartbeat")
    assert control.status()["a"]["attempts"] == 2


def test_a_stalled_agent_is_nudged_then_restarted(control, tmp_path):
    record = tmp_path / "typed"
    one_task(control, agent_profile("spinner.py", str(record)))
    beat_until(control, lambda s: any("nudged after" in r for _, r in journal(control, "a")),
               what="a nudge")
    wait_for(lambda: record.exists() and b"no progress on" in record.read_bytes(),
             what="the nudge text to reach the agent")
    status = beat_until(control, lambda s: s["a"]["attempts"] == 2, what="a restart")
    reasons = [r for _, r in journal(control, "a")]
    assert any("after a nudge" in r for r in reasons)
    assert status["a"]["status"] in ("running", "error")
    prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert "no progress for" in prompt and "after a nudge" in prompt


def test_exit_0_without_commits_is_an_error_not_complete(control):
    one_task(control, agent_profile("no_commit.py"), max_attempts=1)
    status = beat_until(control, lambda s: s["a"]["status"] == "error")
    assert "exited 0, but it finished with no commits beyond its base" in status["a"]["reason"]
    assert all(new != "complete" for new, _ in journal(control, "a"))


def test_exit_0_with_a_failing_verify_is_an_error_carrying_its_output(control):
    one_task(control, {"command": [sys.executable, "-m", "taskorch.demo_agent", "{prompt_file}"]},
             task={"verify": "echo checking a.txt; echo 'FAILED: 1 test' >&2; exit 3"},
             max_attempts=2)
    beat_until(control, lambda s: s["a"]["attempts"] == 2 or "gave up" in s["a"]["reason"])
    assert all(new != "complete" for new, _ in journal(control, "a"))
    first = next(r for new, r in journal(control, "a") if new == "error")
    assert "verify `echo checking a.txt; echo 'FAILED: 1 test' >&2; exit 3` exited 3" in first
    retry_prompt = (control.workdir / "runs" / "a" / "attempt-2.prompt.md").read_text()
    assert "FAILED: 1 test" in retry_prompt


def test_uncommitted_work_is_committed_by_taskorch_and_said_so(control, tmp_path):
    script = tmp_path / "dirty.py"
    script.write_text("open('a.txt', 'w').write('work\\n')\nprint('done')\n")
    one_task(control, {"command": [sys.executable, str(script)]})
    beat_until(control, lambda s: s["a"]["status"] in DONE)
    assert "taskorch committed changes the agent left uncommitted" in completed_reason(control, "a")


def test_an_interactive_agent_idle_at_its_prompt_is_complete(control):
    one_task(control, {**agent_profile("tui.py"), "interactive": True, "idle": [r"^›\s*$"]},
             stall_minutes=5)
    beat_until(control, lambda s: s["a"]["status"] in DONE)
    assert "verified: 1 commit(s)" in completed_reason(control, "a")
    assert control.project().session_name("a") not in control.sessions()


def test_a_busy_lock_is_one_line_and_exit_0(control):
    one_task(control, agent_profile("hang.py"))
    from taskorch import lock
    with lock.hold(control.workdir / "lock"):
        result = control.doit("heartbeat")
    assert result.returncode == 0
    assert result.stdout.strip() == "heartbeat: another heartbeat is running; it will tick again for this one"
    assert (control.workdir / "heartbeat.rerun").exists()


def test_status_of_one_task_shows_its_journal_and_log(control):
    one_task(control, agent_profile("fail_once.py"))
    beat_until(control, lambda s: s["a"]["status"] in DONE)
    out = control.doit("status", "--task", "a").stdout
    assert out.startswith("a: pr_open (attempt 2)")
    assert "running -> error: the agent exited 1; retry 2 of 3" in out
    assert "error: XYZZY-42: the widget registry is missing" in out  # from the log tail
    assert "demo-agent: committed a" in out
    missing = control.doit("status", "--task", "zz", check=False)
    assert missing.returncode != 0 and "status: no task 'zz'" in missing.stderr
