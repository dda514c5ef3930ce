"""`runner: {kind: ray, address: ...}` end to end (issue 11): scripted agents as Ray jobs on a real
local Ray head in private namespaces (ray_head.py), driven through doit's command line with a
real bare remote, over the Jobs HTTP API only. The jobs clone, run the agent and push to their
attempt's ref; the heartbeat here brings their work home, verifies and merges it, as for tmux.

One module, one head: a head costs ~6 s of two cores to start (30 s when four start at once under
`-n 4`), so the scenarios share it in order, in one xdist group. The first test ends with the
head's restart (a second start); the second adds a worker node, kills it, and adds another.
Three projects use the head; each has its own key, so none sees another's jobs. Figures are
printed (`-s`) and recorded in tests/engines/README.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import AGENTS, DONE, Control, agent_profile, manifest, on_main, wait_for
from ray_head import RayHead, ray_head  # noqa: F401 (the fixture)
from taskorch.runners.ray import RayRunner
from test_heartbeat import beat_until as beat_often, journal, story



def beat_until(control, predicate, timeout: float = 40):  # type: ignore[no-untyped-def]
    """test_heartbeat.beat_until at a job's pace: a job takes 5-9 s from submit to end, and
    each look is a doit process whose CPU the rest of the suite needs."""
    return beat_often(control, predicate, timeout=timeout, interval=1.0)


pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]  # one head per run
HANG = {"command": [sys.executable, str(AGENTS / "hang.py")]}


def quick(head: RayHead, **runner: Any) -> dict[str, Any]:
    return {"stall_minutes": 5, "retry_backoff_seconds": 0, "hook": False, "merge": "auto",
            "runner": {"kind": "ray", "address": head.address, **runner},
            "agents": {"fail_once": agent_profile("fail_once.py"), "hang": HANG}}


def jobs_of(head: RayHead, control: Control) -> dict[str, list[dict[str, Any]]]:
    """This project's jobs by task id, oldest first: their sessions hold its project key."""
    sessions = {t["session"]: t["id"] for t in control.status().values() if t.get("session")}
    out: dict[str, list[dict[str, Any]]] = {}
    for job in sorted(head.jobs(), key=lambda j: j["start_time"]):
        task = sessions.get((job.get("metadata") or {}).get("taskorch_session"))
        if task:
            out.setdefault(task, []).append(job)
    return out


def wait_for_job(head: RayHead, control: Control, task: str, want: str,
                 timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (got := [j["status"] for j in jobs_of(head, control).get(task, [])[-1:]]) != [want]:
        assert time.monotonic() < deadline, f"{task}: no {want} job ({got})"
        time.sleep(0.2)


def results(remote: Path, task: str, attempt: int) -> list[str]:
    """The refs the attempt's jobs pushed their work to (job.result_ref)."""
    refs = subprocess.run(["git", "--git-dir", str(remote), "for-each-ref", "--format=%(refname)",
                           f"refs/taskorch/{task}/"], capture_output=True, text=True).stdout
    mine = re.compile(rf"refs/taskorch/{task}/a{attempt}-[0-9a-f]{{12}}")
    return [ref for ref in refs.split() if mine.fullmatch(ref)]


def test_agents_run_as_ray_jobs_to_merged_are_retried_stopped_and_survive_a_head_restart(
        control, remote, ray_head, tmp_path):  # noqa: F811
    head = ray_head
    tasks = [{"id": "a", "title": "A", "files": ["a.txt"]},
             {"id": "b", "title": "B", "files": ["b.txt"], "dependsOn": ["a"]},
             {"id": "c", "title": "C", "files": ["a.txt"]},  # the same file as a: after it
             {"id": "f", "title": "F", "files": ["f.txt"], "agent": "fail_once"},
             {"id": "h", "title": "H", "files": ["h.txt"], "agent": "hang"}]
    control.write(manifest([tasks], repo=str(remote), **quick(head)))
    t0 = time.monotonic()
    control.doit("launch")
    launch = time.monotonic() - t0
    jobs = jobs_of(head, control)
    assert sorted(jobs) == ["a", "f", "h"]  # b waits for a, c for a's file
    assert control.status()["a"]["job"] == jobs["a"][0]["submission_id"]
    assert not (jobs["a"][0].get("runtime_env") or {}).get("env_vars")  # Ray shows them

    # -- to merged, in dependency and file order; f fails once and is retried with its error --
    status = beat_until(control, lambda s: all(s[t]["status"] in DONE for t in "abcf")
                        or s["f"]["attempts"] > 2, timeout=150)
    assert all(status[t]["status"] == "merged" and status[t]["attempts"] == 1 for t in "abc")
    for path in ("a.txt", "b.txt"):
        assert on_main(remote, path), path
    jobs = jobs_of(head, control)
    assert all([j["status"] for j in jobs[t]] == ["SUCCEEDED"] for t in "abc"), jobs
    a, b, c = jobs["a"][0], jobs["b"][0], jobs["c"][0]
    assert b["start_time"] > a["end_time"] and c["start_time"] > a["end_time"]
    log = (control.workdir / "logs" / "a.log").read_text()  # copied from Ray for results.py
    assert "TASKORCH-START " in log and "TASKORCH-RESULT " in log
    # attempt 2 of f succeeds only if its prompt quotes attempt 1's error, which only the job's
    # output (copied from Ray into the task's log) holds
    assert (status["f"]["status"], status["f"]["attempts"]) == ("merged", 2), status["f"]
    assert [j["status"] for j in jobs["f"]] == ["FAILED", "SUCCEEDED"]
    errors = [r for state, r in journal(control, "f") if state == "error"]
    assert errors and "exited 1" in errors[0], errors

    # -- one status pass; a second launch submits nothing ------------------------------------
    runner = RayRunner(status["a"]["session"].split("-")[1],
                       lambda s: control.workdir / "logs" / f"{s.rsplit('-', 1)[1]}.log",
                       {"address": head.address})
    t0 = time.monotonic()
    assert set(runner.snapshot()) == {t["session"] for t in status.values()}
    snap = time.monotonic() - t0
    control.doit("launch")
    assert sum(map(len, jobs_of(head, control).values())) == 6

    # -- stop ---------------------------------------------------------------------------------
    wait_for_job(head, control, "h", "RUNNING")
    t0 = time.monotonic()
    control.doit("stop", "h")
    stop = time.monotonic() - t0
    assert [j["status"] for j in jobs_of(head, control)["h"]] == ["STOPPED"]
    assert control.status()["h"]["status"] == "stuck"
    assert not [p for p in head.processes() if "hang.py" in p]
    print(f"ray: doit launch (3 submits) {launch:.2f}s; one status pass {snap * 1000:.0f} ms; "
          f"a's exit to b's submit {(b['start_time'] - a['end_time']) / 1000:.2f}s; a's job "
          f"from submit to end {(a['end_time'] - a['start_time']) / 1000:.2f}s; "
          f"doit stop {stop:.2f}s")

    # -- a job pending for resources stays pending, and stop says why ---------------------------
    (tmp_path / "pending").mkdir()
    other = Control(tmp_path / "pending")
    try:
        other.write(manifest([[{"id": "p", "title": "P", "files": ["p.txt"], "agent": "hang"}]],
                             repo=str(remote), project="pending",
                             **quick(head, resources={"agent_slot": 100})))  # the head has 4
        other.doit("launch")
        for _ in range(2):
            other.doit("heartbeat")
        assert other.status()["p"]["status"] == "running"
        assert [j["status"] for j in jobs_of(head, other)["p"]] == ["PENDING"]
        result = other.doit("stop", "p", check=False)
        said = result.stdout + result.stderr
        assert result.returncode != 0 and "PENDING" in said and "ignores stop" in said, said
        assert [j["status"] for j in jobs_of(head, other)["p"]] == ["PENDING"]

        # -- the head goes down, then comes back with no job records ---------------------------
        head.stop(keep_address=True)
        out = other.doit("heartbeat")
        assert "the runner cannot be asked" in out.stdout, out.stdout
        assert other.status()["p"]["status"] == "running"  # not taken for gone
        head.start()
        out = other.doit("heartbeat")
        status = other.status()["p"]
        # its job is gone: the attempt is lost and retried, a new job on the new head
        assert (status["status"], status["attempts"]) == ("running", 2), (status, out.stdout)
        lost = [r for state, r in journal(other, "p") if state == "error"]
        assert lost and "is gone" in lost[0], lost
        assert [j["status"] for j in jobs_of(head, other)["p"]] == ["PENDING"]
        print(f"ray: after the head's restart: {out.stdout.strip()!r}; head start "
              f"{head.timings['start']:.1f}s")
    finally:
        other.shut_down()


def test_a_worker_node_dies_under_its_job_and_the_orphans_late_push_is_never_delivered(
        control, remote, ray_head, tmp_path):  # noqa: F811
    """A node dies: Ray fails the job (its supervisor died with the node), and the agent lives on
    as an orphan that Ray cannot stop. The attempt is retried as a new job, which waits for a
    node with the resources; the orphan's work lands at attempt 1's ref when it ends, and what
    merges is attempt 2's."""
    head, release = ray_head, tmp_path / "release"
    settings = quick(head, resources={"w_slot": 1})  # only the worker nodes have it
    settings["agents"]["outlive"] = agent_profile("outlive.py", "w.txt", str(release))
    control.write(manifest([[{"id": "w", "title": "W", "files": ["w.txt"], "agent": "outlive"}]],
                           repo=str(remote), project="dies", **settings))
    worker = head.add_worker({"w_slot": 1})
    control.doit("launch")
    orphan = wait_for(lambda: [p for p in head.processes() if "outlive.py" in p], timeout=90,
                      what="attempt 1's agent on the worker node")
    t0 = time.monotonic()
    worker.die()
    wait_for_job(head, control, "w", "FAILED")
    died = time.monotonic() - t0
    assert [p for p in head.processes() if "outlive.py" in p] == orphan  # Ray left it running

    status = beat_until(control, lambda s: s["w"]["attempts"] == 2)["w"]
    assert status["status"] == "running", status
    errors = [r for state, r in journal(control, "w") if state == "error"]
    assert errors and "its node has died" in errors[0], story(control, "w")
    wait_for_job(head, control, "w", "PENDING")  # no node has w_slot now

    release.touch()  # the orphan finishes; its job pushes to attempt 1's own ref
    pushed = wait_for(lambda: results(remote, "w", 1), timeout=30, what="the orphan's push")
    control.doit("heartbeat")
    assert (control.status()["w"]["status"], control.status()["w"]["attempts"]) == ("running", 2)

    head.add_worker({"w_slot": 1})  # the node is replaced: attempt 2's job runs there
    status = beat_until(control, lambda s: s["w"]["status"] in DONE, timeout=90)["w"]
    assert (status["status"], status["attempts"]) == ("merged", 2), story(control, "w")
    assert on_main(remote, "w.txt") == "attempt 2\n"
    assert [on_main(remote, "w.txt", ref=ref) for ref in pushed] == ["attempt 1\n"]
    print(f"ray: a dead node's job FAILED {died:.1f}s after the node died")
