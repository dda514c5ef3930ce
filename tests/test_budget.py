"""Usage and limits (issue 9, part 8): `budget:` per project and per task stops new launches and
retries once spent (the task goes stuck, with the reason); a profile's `max_parallel` and
`launches_per_hour` keep tasks pending. Through the doit CLI, with scripted agents that print
recorded events with usage as `codex exec --json` and `claude -p` do."""

from __future__ import annotations

import pytest
import yaml

from conftest import DONE, agent_profile, manifest
from taskorch import manifest as manifests
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
