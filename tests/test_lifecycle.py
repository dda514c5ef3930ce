"""The task lifecycle (lifecycle.py): one table of allowed transitions, each with its event; the
store refuses anything else, and so do the operator verbs, in one line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, manifest, wait_for
from taskorch import lifecycle
from taskorch.lifecycle import Event, IllegalTransition, State
from taskorch.manifest import STATES, Task
from taskorch.state import Store

FAST = {"retry_backoff_seconds": 0, "hook": False}
DEMO = ("from taskorch import demo_agent; import os; "
        "demo_agent.main([os.environ['TASKORCH_PROMPT_FILE']])")


def store_at(tmp_path: Path, status: str) -> Store:
    store = Store(tmp_path / f"{status}.db")
    store.seed([Task(id="a", index=0, phase=0, title="a", runtime={"status": status})])
    return store


def journal(store: Store) -> list[tuple]:
    return [(e.seq, e.old, e.new, e.reason) for e in store.events("a")]


# --- the table ---------------------------------------------------------------------------------

def test_the_states_are_the_stored_strings():
    assert STATES == tuple(s.value for s in State) == (
        "pending", "blocked", "running", "stuck", "error", "complete", "pr_open", "merged",
        "skipped")
    assert f"{State.PR_OPEN}" == str(State.PR_OPEN) == "pr_open" == State.PR_OPEN


def test_every_event_moves_some_task_and_every_state_can_be_left_or_is_final():
    assert {event for _, event, _ in lifecycle.TRANSITIONS} == set(Event)
    leaving = {old for old, event, new in lifecycle.TRANSITIONS if old is not None and old != new}
    assert leaving == set(State)  # even merged: a force-pushed base can drop its work


def test_every_state_is_reachable_from_a_new_task():
    reached, frontier = {State.PENDING}, [State.PENDING]
    while frontier:
        old = frontier.pop()
        for o, event, new in lifecycle.TRANSITIONS:
            if o == old and event != Event.SEEDED and new not in reached:
                reached.add(new)
                frontier.append(new)
    assert reached == set(State)


@pytest.mark.parametrize("old,event,new", sorted(
    lifecycle.TRANSITIONS, key=lambda t: (str(t[1]), str(t[0]), str(t[2]))),
    ids=lambda v: str(v))
def test_every_allowed_transition_goes_through_the_store(tmp_path, old, event, new):
    if old is None:  # seeding: the manifest's runtime status becomes the first row
        assert store_at(tmp_path, new).get("a").status == new
        return
    store = store_at(tmp_path, old)
    store.transition("a", new, f"by {event}", event=event)
    assert store.get("a").status == new
    assert journal(store)[-1][1:] == (old, new, f"by {event}")


@pytest.mark.parametrize("old,new,event", [
    ("merged", "running", Event.LAUNCHED), ("merged", "running", Event.RESTARTED),
    ("merged", "error", Event.RETRIED_BY_HAND_FORCED), ("merged", "skipped",
                                                        Event.SKIPPED_BY_HAND_FORCED),
    ("pending", "stuck", Event.STOPPED_BY_HAND), ("pending", "error", Event.FAILED),
    ("complete", "merged", Event.MERGED), ("running", "running", Event.LAUNCHED),
    ("skipped", "running", Event.ANSWERED), ("error", "pending", Event.GATES_CHANGED),
])
def test_an_illegal_transition_raises_and_changes_nothing(tmp_path, old, new, event):
    store = store_at(tmp_path, old)
    row, before = store.get("a"), journal(store)
    with pytest.raises(IllegalTransition) as caught:
        store.transition("a", new, "should not happen", event=event, attempts=7)
    text = str(caught.value)
    assert text.startswith(f"a: cannot go from {old} to {new} on {event}"), text
    assert (caught.value.task, caught.value.old, caught.value.new) == ("a", old, new)
    assert store.get("a") == row and journal(store) == before
    assert Store(store.path).get("a") == row  # nothing committed either


def test_a_batch_with_one_illegal_change_changes_none(tmp_path):
    store = Store(tmp_path / "state.db")
    store.seed([Task(id="a", index=0, phase=0, title="a"),
                Task(id="b", index=1, phase=0, title="b", runtime={"status": "running"})])
    with pytest.raises(IllegalTransition, match="b: cannot go from running to blocked"):
        store.transitions([("a", "blocked", "waits"), ("b", "blocked", "waits")],
                          event=Event.GATES_CHANGED)
    assert store.statuses() == {"a": "pending", "b": "running"}


def test_an_unknown_event_or_state_is_refused(tmp_path):
    store = store_at(tmp_path, "pending")
    with pytest.raises(ValueError):
        store.transition("a", "running", "x", event="teleported")
    with pytest.raises(ValueError):
        store.transition("a", "finished", "x", event=Event.LAUNCHED)
    with pytest.raises(TypeError):
        store.transition("a", "running", "x")  # type: ignore[call-arg]  # the event is required
    assert store.get("a").status == "pending"


def test_a_task_without_a_row_cannot_change_state(tmp_path):
    store = store_at(tmp_path, "pending")
    with pytest.raises(IllegalTransition, match="zz: cannot go from no row to running"):
        store.transition("zz", "running", "x", event=Event.LAUNCHED)
    assert store.events("zz") == []


def test_every_call_site_names_its_event():
    """Every store.transition(s) call in the package passes `event=`: an Event member, or a
    variable holding one."""
    calls = []
    for path in sorted((ROOT / "lib" / "taskorch").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("transition", "transitions")
                    and path.name != "state.py"):
                event = next((k.value for k in node.keywords if k.arg == "event"), None)
                where = f"{path.name}:{node.lineno}"
                assert event is not None, f"{where}: no event="
                names = [n.attr for n in ast.walk(event) if isinstance(n, ast.Attribute)
                         and isinstance(n.value, ast.Name) and n.value.id == "Event"]
                variable = isinstance(event, ast.Name)  # operator.py picks it by --force
                assert variable or (names and all(n in Event.__members__ for n in names)), where
                calls.append(where)
    assert len(calls) >= 15


# --- the operator verbs, through the doit CLI ------------------------------------------------

def scripted(tmp_path: Path, code: str) -> dict:
    script = tmp_path / "agent.py"
    script.write_text(code)
    return {"command": [sys.executable, str(script)]}


def delivered(control, remote, tmp_path, state: str, **top):  # type: ignore[no-untyped-def]
    """Task `a` run by the demo agent against a real remote until it is `state`."""
    control.write(manifest([[{"id": "a", "title": "the task", "files": ["a.txt"]}],
                            [{"id": "b", "title": "later", "files": ["b.txt"]}]],
                           repo=str(remote), agent="scripted",
                           agents={"scripted": scripted(tmp_path, DEMO)}, **{**FAST, **top}))
    control.doit("launch")

    def step():  # type: ignore[no-untyped-def]
        control.doit("heartbeat")
        return control.status()["a"]["status"] == state
    wait_for(step, timeout=40, interval=0.1, what=f"task a to be {state}")


def refused(control, *argv: str) -> str:  # type: ignore[no-untyped-def]
    """Run a verb that must be refused: non-zero, one line on stderr, no change to a's row or
    its journal. Returns that line."""
    project = control.project()
    before_row, before_events = project.store.get("a"), project.store.events("a")
    out = control.doit(*argv, check=False)
    assert out.returncode != 0, out
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    after = control.project().store
    assert after.get("a") == before_row and after.events("a") == before_events
    return lines[0]


def test_retry_and_skip_of_a_merged_task_are_refused_even_with_force(control, remote, tmp_path):
    delivered(control, remote, tmp_path, "merged", merge="auto")
    line = refused(control, "retry", "a")
    assert "retry: a is merged: its work is on main; nothing to retry" in line
    assert "nothing to retry" in refused(control, "retry", "a", "--force")
    assert "skip: a is merged: its work is on main; nothing to skip" in refused(control, "skip", "a")
    assert "nothing to skip" in refused(control, "skip", "--force", "a")
    assert "stop: a is merged; there is no agent to stop" in refused(control, "stop", "a")
    assert control.status()["a"]["status"] == "merged"


def test_stop_of_a_task_not_started_is_refused(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}]], agent="demo"))
    control.doit("plan")
    line = refused(control, "stop", "a")
    assert line.endswith("stop: a is pending; there is no agent to stop (it has not started)")
    assert "has not started yet; `doit launch:a` starts it" in refused(control, "retry", "a")
    assert control.status()["a"]["status"] == "pending"


def test_retry_of_delivered_work_needs_force_and_then_runs_it_again(control, remote, tmp_path):
    delivered(control, remote, tmp_path, "pr_open")
    line = refused(control, "retry", "a")
    assert "retry: a is pr_open" in line and "`doit retry a --force`" in line
    out = control.doit("retry", "a", "--force").stdout
    assert "a: attempt budget reset; restarting now" in out and "a: launched attempt 2" in out

    def again():  # type: ignore[no-untyped-def]
        control.doit("heartbeat")
        row = control.status()["a"]
        return row["attempts"] == 2 and row["status"] == "pr_open" and row
    wait_for(again, timeout=40, interval=0.1, what="a delivered again")


def test_skip_of_delivered_work_needs_force(control, remote, tmp_path):
    delivered(control, remote, tmp_path, "pr_open")
    line = refused(control, "skip", "a")
    assert "skip: a is pr_open: its verified work would not be delivered" in line
    out = control.doit("skip", "a", "--force").stdout
    assert "a: skipped; tasks waiting for it may start" in out
    assert control.status()["a"]["status"] == "skipped"
    again = control.doit("skip", "a")  # already done: said, not an error
    assert "a: nothing to skip: it is skipped already" in again.stdout


def test_help_documents_force(control):
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a"]}]]))
    text = subprocess.run([sys.executable, "-m", "doit", "retry", "--help"], cwd=control.path,
                          capture_output=True, text=True).stdout
    assert "--force" in text and "merged" in text
