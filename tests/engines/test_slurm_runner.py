"""`runner: slurm` end to end (issue 11): scripted agents as batch jobs on a real one-node Slurm
cluster in private namespaces (slurm_cluster.py), driven through doit's command line with a
real bare remote. The jobs clone, run the agent and push to their attempt's ref; the heartbeat
here brings their work home, verifies and merges it, exactly as for tmux.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from conftest import AGENTS, DONE, Control, agent_profile, manifest, on_main, wait_for
from slurm_cluster import slurm_cluster  # noqa: F401 (the fixture)
from test_heartbeat import beat_until as beat_often, journal, story



def beat_until(control, predicate, timeout: float = 40):  # type: ignore[no-untyped-def]
    """test_heartbeat.beat_until at a job's pace: jobs take seconds; each look costs CPU."""
    return beat_often(control, predicate, timeout=timeout, interval=0.5)


pytestmark = pytest.mark.slurm
QUICK = {"stall_minutes": 5, "retry_backoff_seconds": 0, "hook": False, "merge": "auto",
         "runner": "slurm"}


def test_tasks_run_as_slurm_jobs_in_dependency_and_file_order_to_merged(control, remote,
                                                                      slurm_cluster):  # noqa: F811
    control.env.update(slurm_cluster.env())
    tasks = [{"id": "a", "title": "A", "files": ["a.txt"]},
             {"id": "b", "title": "B", "files": ["b.txt"], "dependsOn": ["a"]},
             {"id": "c", "title": "C", "files": ["a.txt"]}]  # the same file as a: after it
    control.write(manifest([tasks], repo=str(remote), **QUICK))
    control.doit("launch")
    jobs = [j for j in slurm_cluster.run("scontrol", "--oneliner", "show", "job").stdout
            .splitlines() if j.startswith("JobId=")]
    assert len(jobs) == 1  # a alone: b waits for it, c for its file
    status = beat_until(control, lambda s: all(t["status"] in DONE for t in s.values()),
                        timeout=120)
    assert all(status[t]["status"] == "merged" and status[t]["attempts"] == 1 for t in "abc")
    for path in ("a.txt", "b.txt"):
        assert on_main(remote, path), path
    reasons = [r for _, r in journal(control, "a")]
    assert any("brought home its work" in r or "verified" in r for r in reasons), reasons


def test_a_failed_job_is_retried_with_its_log_excerpt_in_the_prompt(control, remote,
                                                                   slurm_cluster):  # noqa: F811
    control.env.update(slurm_cluster.env())
    agent = agent_profile("fail_once.py")
    control.write(manifest([[{"id": "f", "title": "F", "files": ["f.txt"]}]], repo=str(remote),
                           agent="scripted", agents={"scripted": agent}, **QUICK))
    control.doit("launch")
    status = beat_until(control, lambda s: s["f"]["status"] in DONE or s["f"]["attempts"] > 2,
                        timeout=120)
    assert (status["f"]["status"], status["f"]["attempts"]) == ("merged", 2), status["f"]
    errors = [r for state, r in journal(control, "f") if state == "error"]
    assert errors and "exited 1" in errors[0], errors


def test_stop_cancels_the_job(control, remote, slurm_cluster):  # noqa: F811
    control.env.update(slurm_cluster.env())
    agent = {"command": [sys.executable, str(AGENTS / "hang.py")]}
    control.write(manifest([[{"id": "h", "title": "H", "files": ["h.txt"]}]], repo=str(remote),
                           agent="scripted", agents={"scripted": agent}, **QUICK))
    control.doit("launch")
    job = beat_until(control, lambda s: s["h"]["status"] == "running", timeout=30)["h"]["job"]
    assert slurm_cluster.job(job)["JobName"].endswith("-h")  # status names the engine's job
    control.doit("stop", "h")
    active = [j for j in slurm_cluster.run("scontrol", "--oneliner", "show", "job").stdout
              .splitlines() if "JobState=RUNNING" in j or "JobState=PENDING" in j]
    assert active == []
    assert control.status()["h"]["status"] == "stuck"


def test_an_interactive_agent_is_refused_for_a_remote_runner(control, remote):
    control.write(manifest([[{"id": "x", "title": "X", "files": ["x"]}]], repo=str(remote),
                           agent="claude", runner="slurm"))
    result = control.doit("plan", check=False)
    assert result.returncode != 0
    assert "agent 'claude' is interactive, and runner: slurm runs only non-interactive" \
        in result.stderr


def test_a_dependent_starts_after_its_job_ends_with_no_heartbeat_by_hand(control, remote,
                                                                         slurm_cluster):  # noqa: F811
    """No hook of ours runs where a job ends: while jobs run, a delayed heartbeat looks again
    every wakeup.REMOTE_POLL seconds, so nothing waits for cron."""
    control.env.update(slurm_cluster.env(), TASKORCH_REMOTE_POLL="2")  # 10 s by default
    tasks = [{"id": "a", "title": "A", "files": ["a.txt"]},
             {"id": "b", "title": "B", "files": ["b.txt"], "dependsOn": ["a"]}]
    control.write(manifest([tasks], repo=str(remote), **{**QUICK, "hook": True}))
    control.doit("launch")
    wait_for(lambda: all(t["status"] == "merged" for t in control.peek().values()),
             timeout=90, interval=1, what="both jobs to be merged by scheduled heartbeats")


def launch_a_waiting_job(control: Control, remote: Path, tmp_path: Path) -> Path:
    """Launch task h as a job whose agent (attempt 1) waits for the file returned, then writes
    h.txt."""
    release = tmp_path / "release"
    agent = agent_profile("outlive.py", "h.txt", str(release))
    control.write(manifest([[{"id": "h", "title": "H", "files": ["h.txt"]}]], repo=str(remote),
                           agent="scripted", agents={"scripted": agent}, **QUICK))
    control.doit("launch")
    return release


def assert_its_work_merges(control: Control, remote: Path, release: Path) -> None:
    """Released, attempt 1's job pushes its work, and that work is what merges."""
    release.touch()
    status = beat_until(control, lambda s: s["h"]["status"] in DONE | {"failed", "stuck"},
                        timeout=60)["h"]
    assert (status["status"], status["attempts"]) == ("merged", 1), story(control, "h")
    assert on_main(remote, "h.txt") == "attempt 1\n"


def test_a_lost_state_store_adopts_the_running_job_and_brings_its_work_home(control, remote,
                                                                           slurm_cluster,  # noqa: F811
                                                                           tmp_path):
    """The launch after the store was lost adopts the live job (recover.py) and submits no
    second; what that job pushes is what merges."""
    control.env.update(slurm_cluster.env())
    release = launch_a_waiting_job(control, remote, tmp_path)
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (control.workdir / name).unlink(missing_ok=True)
    control.doit("launch")
    jobs = [j for j in slurm_cluster.run("scontrol", "--oneliner", "show", "job").stdout
            .splitlines() if j.startswith("JobId=")]
    assert len(jobs) == 1, jobs
    assert control.status()["h"]["status"] == "running"
    assert_its_work_merges(control, remote, release)


def test_a_launch_killed_after_its_submit_adopts_the_job_and_brings_its_work_home(
        control, remote, slurm_cluster, tmp_path):  # noqa: F811
    """A launch killed after the engine took the job, before the state recorded it: the next
    launch adopts the job under the same attempt. It had rewritten that attempt's spec without
    the job's commit, so the job's work was never found ("brought home no work") and the
    attempt was taken for one that did nothing and run again."""
    control.env.update(slurm_cluster.env())
    release = launch_a_waiting_job(control, remote, tmp_path)
    with sqlite3.connect(control.workdir / "state.db") as db:  # the row as the kill left it
        db.execute("UPDATE tasks SET status='pending', attempts=0, session=NULL WHERE id='h'")
    assert "adopted its live session (attempt 1" in control.doit("launch").stdout
    assert_its_work_merges(control, remote, release)


def test_a_job_that_makes_no_progress_is_cancelled_and_resubmitted(control, remote,
                                                                   slurm_cluster):  # noqa: F811
    """A job has no screen to nudge: when neither its log nor its attempt's ref moves for
    stall_minutes, the heartbeat cancels it and submits the next attempt as a new job, whose
    prompt says why."""
    control.env.update(slurm_cluster.env())
    agent = {"command": [sys.executable, str(AGENTS / "hang.py")]}
    control.write(manifest([[{"id": "h", "title": "H", "files": ["h.txt"]}]], repo=str(remote),
                           agent="scripted", agents={"scripted": agent},
                           **{**QUICK, "stall_minutes": 0.1, "max_attempts": 2}))
    control.doit("launch")
    first = beat_until(control, lambda s: s["h"]["job"] is not None, timeout=30)["h"]["job"]
    status = beat_until(control, lambda s: s["h"]["attempts"] == 2 and s["h"]["job"] != first,
                        timeout=60)
    assert status["h"]["status"] == "running", status["h"]
    wait_for(lambda: slurm_cluster.job(first)["JobState"] in ("CANCELLED", "COMPLETED", "FAILED"),
             timeout=20, what=f"job {first} to end")
    assert slurm_cluster.job(status["h"]["job"])["JobState"] in ("PENDING", "RUNNING")
    errors = [r for state, r in journal(control, "h") if state == "error"]
    assert errors and "no progress for" in errors[0], journal(control, "h")
    prompt = (control.workdir / "runs" / "h" / "attempt-2.prompt.md").read_text()
    assert "no progress for" in prompt


def test_a_job_whose_log_keeps_growing_is_left_to_work(control, remote, slurm_cluster):  # noqa: F811
    """The log Slurm writes as the job runs is its progress: a job that prints for twice
    stall_minutes before it writes its file is neither restarted nor failed, and merges."""
    control.env.update(slurm_cluster.env())
    work = ("import time, pathlib\n"
            "for i in range(14):\n    print('step', i, flush=True); time.sleep(1)\n"
            "pathlib.Path('w.txt').write_text('w\\n')\n")
    agent = {"command": [sys.executable, "-c", work]}
    control.write(manifest([[{"id": "w", "title": "W", "files": ["w.txt"]}]], repo=str(remote),
                           agent="scripted", agents={"scripted": agent},
                           **{**QUICK, "stall_minutes": 0.1}))
    control.doit("launch")
    status = beat_until(control, lambda s: s["w"]["status"] in DONE or s["w"]["attempts"] > 1,
                        timeout=90)
    assert (status["w"]["status"], status["w"]["attempts"]) == ("merged", 1), \
        journal(control, "w")
    assert on_main(remote, "w.txt") == "w\n"


def test_a_project_started_over_brings_home_its_own_attempt_not_an_earlier_lifes(
        control, remote, slurm_cluster, tmp_path):  # noqa: F811
    """A new work directory for the same repository (or a reset one) numbers its attempts from 1
    again, while the remote keeps what the earlier life's jobs pushed. Each job pushes to a ref
    named by its own commit, so the new attempt 1 is never refused that ref, and never brings
    home the earlier life's unmerged work in place of its own."""
    control.env.update(slurm_cluster.env())
    first = [{"id": "a", "title": "First life", "files": ["a.txt"]}]
    control.write(manifest([first], repo=str(remote), **{**QUICK, "merge": "manual"}))
    control.doit("launch")
    beat_until(control, lambda s: s["a"]["status"] in DONE, timeout=60)  # pushed, not merged
    assert on_main(remote, "a.txt") is None

    (tmp_path / "again").mkdir()
    again = Control(tmp_path / "again")
    try:
        again.env.update(slurm_cluster.env())
        again.write(manifest([[{**first[0], "title": "Second life"}]], repo=str(remote), **QUICK))
        again.doit("launch")
        status = beat_until(again, lambda s: s["a"]["status"] in DONE, timeout=60)["a"]
        assert (status["status"], status["attempts"]) == ("merged", 1), story(again, "a")
        assert on_main(remote, "a.txt") == "a: Second life\n"
    finally:
        again.shut_down()
