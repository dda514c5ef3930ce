"""Usage and limits (issue 9, part 8): `budget:` per project and per task stops new launches and
retries once spent (the task goes stuck, with the reason); a profile's `max_parallel` and
`launches_per_hour` keep tasks pending. Through the doit CLI, with scripted agents that print
recorded events with usage as `codex exec --json` and `claude -p` do."""

from __future__ import annotations

import time

import pytest
import yaml

from conftest import DONE, agent_profile, manifest, wait_for
from taskorch import budget, manifest as manifests, schedule, signals
from taskorch.layout import write_atomic
from taskorch.project import Project
from taskorch.signals import base as signals_base
from taskorch.state import epoch, stamp
from test_heartbeat import FAST, beat_until, journal
from test_signals import CLAUDE, CODEX


def scripted(control, fixture, tasks=("a", "b"), events="codex-json", exit_code=None,
             profile=None, task_extra=None, **top) -> None:
    """Tasks run by a scripted agent that commits, prints `fixture`'s events and exits."""
    args = [str(fixture)] + ([str(exit_code)] if exit_code is not None else [])
    agent = {**agent_profile("print_events.py", *args), "stdin": True, "events": events,
             **(profile or {})}
    listed = [{"id": t, "title": f"task {t}", "files": [f"{t}.txt"], **(task_extra or {})}
              for t in tasks]
    control.write(manifest([listed], agent="scripted", agents={"scripted": agent},
                           **{**FAST, **top}))
    control.doit("launch")


def test_a_spent_project_budget_stops_the_next_launch(control):
    # one claude attempt costs $0.1533: past the project's $0.10, b never starts
    scripted(control, CLAUDE / "stream-json-ok.jsonl", events="claude-stream-json",
             max_parallel=1, budget={"usd": 0.10})
    status = beat_until(control, lambda s: s["a"]["status"] in DONE and s["b"]["status"] == "stuck")
    assert status["b"]["attempts"] == 0
    assert status["b"]["reason"].startswith("budget spent: $0.15 of $0.10 (project); raise "
                                            "`budget` in the manifest, then `doit retry b`")
    assert ("stuck", status["b"]["reason"]) in journal(control, "b")
    assert not (control.workdir / "runs" / "b" / "attempt-1.prompt.md").exists()


def test_a_spent_task_token_budget_stops_its_retry(control):
    # the attempt reports 30,922 tokens and exits 1: no retry for a task allowed 1,000
    scripted(control, CODEX / "exec-json-ok.jsonl", tasks=("a",), exit_code=1, max_attempts=3,
             task_extra={"budget": {"tokens": 1000}})
    status = beat_until(control, lambda s: s["a"]["status"] == "stuck")
    assert status["a"]["attempts"] == 1
    assert status["a"]["reason"].startswith("budget spent: 30,922 tokens of 1,000 (task a)")
    # codex reports no cost, but the token budget sees what it needs: no blind spot
    health = control.doit("status").stdout
    assert "budget cannot see" not in health


def test_a_cost_budget_says_what_it_cannot_see(control):
    # codex reports no cost: counted as 0, and the health line says the budget cannot see it
    scripted(control, CODEX / "exec-json-ok.jsonl", tasks=("a",), budget={"usd": 1.0})
    beat_until(control, lambda s: s["a"]["status"] in DONE)
    health = control.doit("status").stdout
    assert "budget cannot see usage not reported by a (counted as 0)" in health


def test_profile_max_parallel_keeps_the_second_task_pending(control):
    agent = {**agent_profile("hang.py"), "max_parallel": 1}
    listed = [{"id": t, "title": f"task {t}", "files": [f"{t}.txt"]} for t in ("a", "b")]
    control.write(manifest([listed], agent="scripted", agents={"scripted": agent}, **FAST))
    control.doit("launch")
    control.doit("heartbeat")
    status = control.status()
    assert status["a"]["status"] == "running"
    assert status["b"]["status"] == "pending" and status["b"]["attempts"] == 0
    assert status["b"]["reason"] == ("waits for its agent profile's limit: 1 of max_parallel 1 "
                                     "of agent scripted running")
    control.doit("stop", "a")
    status = beat_until(control, lambda s: s["b"]["status"] == "running",
                        what="b launched once a gave its slot back")


def test_launches_per_hour_keeps_the_second_launch_waiting(control):
    scripted(control, CODEX / "exec-json-ok.jsonl", profile={"launches_per_hour": 1})
    status = beat_until(control, lambda s: s["a"]["status"] in DONE)
    for _ in range(2):
        control.doit("heartbeat")
    status = control.status()
    assert status["b"]["status"] == "pending" and status["b"]["attempts"] == 0
    assert status["b"]["reason"].startswith("waits for its agent profile's limit: 1 of "
                                            "launches_per_hour 1 of agent scripted in the last "
                                            "hour; room in ")


@pytest.mark.parametrize("budget, said", [
    ({"usd": -1}, "budget: usd must be a number above 0, not -1"),
    ({"tokens": 1.5}, "budget: tokens must be a whole number of 1 or more, not 1.5"),
    ({"dollars": 5}, "budget: has unknown key 'dollars'; use usd, tokens or both"),
    ({}, "budget: is empty; give usd, tokens or both"),
    (5, "budget: must be a mapping such as {usd: 5.0} or {tokens: 2000000}, not a number"),
])
def test_a_bad_budget_is_one_clear_error(tmp_path, budget, said):
    path = tmp_path / "orchestrator.yaml"
    path.write_text(yaml.safe_dump(manifest([[{"id": "a", "budget": budget}]], budget=budget,
                                            agents={"x": {"extends": "demo", "max_parallel": 0}})))
    with pytest.raises(manifests.ManifestError) as info:
        manifests.load(path)
    assert sum(said in e for e in info.value.errors) == 2, info.value.errors
    assert any("max_parallel: must be a whole number of 1 or more, not 0" in e
               for e in info.value.errors)


def test_a_good_budget_and_profile_limits_load(tmp_path):
    path = tmp_path / "orchestrator.yaml"
    path.write_text(yaml.safe_dump(manifest(
        [[{"id": "a", "budget": {"tokens": 2000000}, "agent": "x"}]],
        budget={"usd": 5.0, "tokens": 10}, agents={"x": {"extends": "demo", "max_parallel": 2,
                                                          "launches_per_hour": 30}})))
    loaded = manifests.load(path)
    assert loaded.budget == {"usd": 5.0, "tokens": 10}
    assert loaded.task("a").budget == {"tokens": 2000000}
    profile = loaded.profile(loaded.task("a"))
    assert (profile.max_parallel, profile.launches_per_hour) == (2, 30)


def limited_project(control, tasks=("a", "b"), limit=1, **top):  # type: ignore[no-untyped-def]
    """A project whose tasks run agent `scripted`, allowed `limit` launches an hour; its state
    seeded (every task pending), nothing launched."""
    agent = {**agent_profile("hang.py"), "launches_per_hour": limit}
    listed = [{"id": t, "title": f"task {t}", "files": [f"{t}.txt"]} for t in tasks]
    path = control.write(manifest([listed], agent="scripted", agents={"scripted": agent},
                                  **{**FAST, **top}))
    return Project.load(path, store=True)


def test_next_due_is_when_launches_per_hour_has_room_again(control, monkeypatch):
    project, now = limited_project(control), time.time()
    assert schedule.next_due(project, now) is None  # nothing held
    budget.record_launch(project, "scripted", at=now - 3000)  # the hour is full for 600 s more
    reads = []
    real = budget.launches
    monkeypatch.setattr(budget, "launches", lambda *args: reads.append(args) or real(*args))
    at, why = schedule.next_due(project, now)
    assert at == pytest.approx(now + 600 + schedule.MARGIN, abs=0.01)
    assert why == "a's launch (launches_per_hour of agent scripted)"
    assert len(reads) == 1  # one read of the record for every held task
    # a retry held by the limit is due when both its backoff and the hour allow
    project.store.update({"a": {"status": "error", "attempts": 1,
                                "retry_at": stamp(now + 900)}})
    project.store.update({"b": {"status": "blocked"}})
    at, _ = schedule.next_due(project, now)
    assert at == epoch(stamp(now + 900)) + schedule.MARGIN  # its backoff ends after the hour's
    project.store.update({"a": {"retry_at": stamp(now - 60)}})
    at, why = schedule.next_due(project, now)  # before: None, though the retry is held
    assert at == pytest.approx(now + 600 + schedule.MARGIN, abs=0.01)
    assert why == "a's launch (launches_per_hour of agent scripted)"


def test_next_due_waits_for_enough_launches_to_leave_a_lowered_limit(control):
    # three launches in the hour, limit 2: room once two have left, not the oldest alone
    project, now = limited_project(control, tasks=("a",), limit=2), time.time()
    for ago in (3000, 2000, 1000):
        budget.record_launch(project, "scripted", at=now - ago)
    at, _ = schedule.next_due(project, now)
    assert at == pytest.approx(now + 1600 + schedule.MARGIN, abs=0.01)


def test_a_task_held_by_launches_per_hour_starts_without_cron_or_an_exit(control):
    """hook on, no cron: the hour's one launch leaves the window 3 s from now, and a delayed
    tick launches the held task; nothing else runs a heartbeat."""
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]], hook=True,
                           agent="limited", agents={"limited": {"extends": "demo",
                                                                "launches_per_hour": 1}}))
    control.workdir.mkdir()
    (control.workdir / "launches").write_text(f"{time.time() - budget.HOUR + 3:.3f} limited\n")
    control.doit("heartbeat")
    assert control.status()["a"]["attempts"] == 0
    wait_for(lambda: control.peek()["a"]["status"] in DONE, timeout=30, interval=0.3,
             what="a launched by the delayed tick, and done")


def test_project_usage_is_read_once_per_tick(control, monkeypatch):
    """Each launch and retry asks `spent`; the signals files are read once a tick, not once a
    call. An attempt that ends within the tick is counted once the tick has ended."""
    tasks = [f"t{i}" for i in range(20)]
    listed = [{"id": t, "title": t, "files": [f"{t}.txt"]} for t in tasks]
    path = control.write(manifest([listed], budget={"usd": 1.0}, **FAST))
    project = Project.load(path, store=True)
    project.store.update({"t0": {"attempts": 2, "status": "complete"}})
    for n in (1, 2):
        signals.save(project.layout.signals_file("t0", n), signals.Signals(cost_usd=0.4))
    reads = []
    real = signals_base.load
    monkeypatch.setattr(signals_base, "load", lambda path: reads.append(path) or real(path))
    assert [budget.spent(project, project.manifest.task(t)) for t in tasks] == [None] * 20
    assert len(reads) == 2  # before: 2 per call, 40
    # t1's attempt ends within the tick: this tick's launches go by what it read ($0.80) ...
    project.store.update({"t1": {"attempts": 1, "status": "error"}})
    signals.save(project.layout.signals_file("t1", 1), signals.Signals(cost_usd=0.4))
    assert budget.spent(project, project.manifest.task("t2")) is None
    # ... and the next tick, even a rerun in this process, sees $1.20
    write_atomic(project.layout.last_tick, "2026-12-01T00:00:00Z 20 pending\n")
    assert budget.spent(project, project.manifest.task("t2")).startswith(
        "budget spent: $1.20 of $1.00 (project)")
