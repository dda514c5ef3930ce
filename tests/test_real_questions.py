"""Questions and first-run dialogs of the real agent CLIs (issue 9: "a question (dialog or
prose): stuck, or answered only if allow-listed", and "first-run dialogs"), driven through the
doit CLI against the scripted model server, as in test_real_agents.py.

- The model asks (`ask` step). Claude's TUI shows an AskUserQuestion dialog; codex (TUI and
  exec) and aider get the question as prose that ends the turn with no commit. `claude -p`
  refuses the tool ("No such tool available: AskUserQuestion", tests/realagents/README.md,
  surprise 8) and tells the model so; a model that then asks in prose ends its turn like the
  others. Whichever way it was put, a question nobody allowed an answer for ends `stuck`, with
  the question as the reason, and nothing is sent to the agent: an agent that has exited 0 on
  a question did not fail, and a retry would only ask it again (or worse, guess).
- A refused AskUserQuestion in `claude -p` is no question to anybody: the model goes on, and the
  task goes on to merged.
- An allow-listed question is answered (an option picked with keys in Claude's dialog, text in
  codex's composer) and the work goes on to merged.
- First-run dialogs: codex's trust dialog is answered by the profile's own answer; Claude's is
  not on its list, so the task is stuck naming it and `doit doctor` names the fix; Claude as
  root without IS_SANDBOX refuses to start, and the reason says so.

Heartbeats are run by hand (`beat_until`), so every step is seen, at most every 0.5 s.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import manifest, wait_for
from test_heartbeat import journal, story
from test_real_agents import (EDIT, isolate, matrix, model, reasons,  # noqa: F401
                              remote_has_hello, script, start)

QUESTION = "Which greeting should hello.txt hold, hello or hi?"
WORDS = "Which greeting should hello.txt hold"
ASK = {"ask": QUESTION, "options": ["hello", "hi"]}
# The work after an answer takes a model's while (6 s before the write): a turn that is still
# working must not be taken for the one that asked.
AFTER = [{**EDIT[0], "delay": 6}, *EDIT[1:]]
ENDED = ("stuck", "error", "complete", "pr_open", "merged", "skipped")

# How each profile hears the question. claude-p refuses AskUserQuestion and goes on; the model
# then asks in prose, as the others do, and its turn ends.
QUESTION_STEPS = {
    "codex": [ASK, *EDIT],
    "codex-exec": [ASK, *EDIT],
    "claude": [ASK, *EDIT],
    "claude-p": [ASK, {"say": QUESTION}, *EDIT],
    "aider": [ASK, *EDIT],
}


def beat_until(control, predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    """test_heartbeat.beat_until at a gentler pace: each look is two Python processes, and
    four of these tests share two cores."""
    def step():  # type: ignore[no-untyped-def]
        control.doit("heartbeat")
        status = control.peek()
        return status if predicate(status) else None
    return wait_for(step, timeout=timeout, interval=0.5, what=what)


def settled(status: dict) -> bool:
    """The task reached a state a person or the heartbeat decided, or a retry started."""
    a = status["a"]
    return a["status"] in ENDED or a["attempts"] > 1


def went_on(model) -> bool:  # type: ignore[no-untyped-def]
    """Did the model get a request after the question, i.e. was the question answered (or the
    turn resumed by anything sent to the agent)? The steps after the question begin with a
    write."""
    return any(r.get("steps") and "write" in r["steps"][0] for r in model.requests())


def sent_to_agent(control) -> list[str]:  # type: ignore[no-untyped-def]
    """Journal lines of anything typed into the agent: an answer or a nudge."""
    return [reason for _, reason in journal(control, "a")
            if reason and (reason.startswith("answered ") or reason.startswith("nudged "))]


def asked_model(model) -> bool:  # type: ignore[no-untyped-def]
    return any(r.get("steps") and "ask" in r["steps"][0] for r in model.requests())


@pytest.mark.parametrize("profile", matrix(tuple(QUESTION_STEPS), ci=("codex-exec", "claude")))
def test_a_question_is_stuck_with_the_question_as_the_reason(control, remote, model, tmp_path,
                                                             profile):
    start(control, remote, model, tmp_path, profile, QUESTION_STEPS[profile])
    wait_for(lambda: asked_model(model), timeout=60, what=f"{profile} to be asked the question")
    status = beat_until(control, settled, timeout=60, what=f"{profile}'s question to be judged")
    a = status["a"]
    assert a["status"] == "stuck", (a, reasons(control, "error"))
    assert WORDS in a["reason"], a["reason"]
    assert a["attempts"] == 1, a
    # A few more looks: it stays stuck on the question, and nothing is typed into the agent.
    for _ in range(3):
        control.doit("heartbeat")
    a = control.status()["a"]
    assert a["status"] == "stuck" and WORDS in a["reason"] and a["attempts"] == 1, a
    assert sent_to_agent(control) == []
    assert not went_on(model), "the model was answered"
    assert not remote_has_hello(remote)


def test_claude_p_refuses_ask_user_question_and_the_model_goes_on_to_merged(control, remote,
                                                                           model, tmp_path):
    """`claude -p` has no AskUserQuestion: the CLI itself answers the call with an error and the
    turn goes on. Nobody was asked, so nothing is stuck: the model carries on and the work is
    merged on the first attempt."""
    start(control, remote, model, tmp_path, "claude-p", [ASK, *EDIT])
    status = beat_until(control, settled, timeout=60, what="claude -p to finish")
    assert status["a"]["status"] == "merged" and status["a"]["attempts"] == 1, status["a"]
    assert remote_has_hello(remote)
    after = next(r for r in model.requests() if r.get("steps") and "write" in r["steps"][0])
    assert "No such tool available: AskUserQuestion" in json.dumps(after["body"])
    assert reasons(control, "stuck") == []


def answering(base: str, **answer) -> dict:  # type: ignore[no-untyped-def]
    """`agents:` with the user profile `asker`, extending `base`, allowed to answer QUESTION."""
    return {"asker": {"extends": base, "answers": [{"match": WORDS, **answer}]}}


def test_an_allow_listed_claude_dialog_is_answered_and_the_work_goes_on_to_merged(
        control, remote, model, tmp_path):
    """A user profile extending `claude` allows the question: Enter picks the first option
    (`hello`) in the AskUserQuestion dialog, the model is told the answer, writes, commits and
    says done."""
    start(control, remote, model, tmp_path, "asker", [ASK, *AFTER],
          agents=answering("claude", send="", keys=["Enter"]))
    status = beat_until(control, settled,
                        timeout=90, what="claude's allow-listed question to be answered")
    a = status["a"]
    assert a["status"] == "merged" and a["attempts"] == 1, f"{a}\n" + story(control, "a")
    assert remote_has_hello(remote)
    answered = [r for r in sent_to_agent(control) if r.startswith("answered ")]
    assert len(answered) == 1 and WORDS in answered[0], story(control, "a")
    assert reasons(control, "stuck") == []
    after = next(r for r in model.requests() if r.get("steps") and "write" in r["steps"][0])
    told = json.dumps(after["body"], ensure_ascii=False)
    assert QUESTION in told and '"hello"' in told.replace('\\"', '"'), told[-2000:]


def test_an_allow_listed_prose_question_in_codex_is_answered_in_its_composer(control, remote,
                                                                             model, tmp_path):
    """codex's turn is over once it asked in prose, but its session lives on with the composer
    open: an allow-listed answer typed there (text + Enter) is the user's next message, and the
    model's next turn does the work."""
    start(control, remote, model, tmp_path, "asker", [ASK, *AFTER],
          agents=answering("codex", send="hello", keys=["Enter"]))
    status = beat_until(control, settled,
                        timeout=90, what="codex's allow-listed question to be answered")
    a = status["a"]
    assert a["status"] == "merged" and a["attempts"] == 1, f"{a}\n" + story(control, "a")
    assert remote_has_hello(remote)
    answered = [r for r in sent_to_agent(control) if r.startswith("answered ")]
    assert len(answered) == 1 and WORDS in answered[0], story(control, "a")
    after = next(r for r in model.requests() if r.get("steps") and "write" in r["steps"][0])
    assert '"hello"' in json.dumps(after["body"]["input"][-1], ensure_ascii=False)


# -- first-run dialogs ------------------------------------------------------------------------

def untrust_codex(control) -> None:  # type: ignore[no-untyped-def]
    config = Path(control.env["CODEX_HOME"]) / "config.toml"
    text = config.read_text()
    config.write_text(text[:text.index("[projects.")])


def test_codex_trust_dialog_is_answered_by_its_profile_and_the_task_merges(control, remote,
                                                                          model, tmp_path):
    start(control, remote, model, tmp_path, "codex", EDIT, prepare=untrust_codex)
    status = beat_until(control, settled,
                        timeout=90, what="codex to be trusted and merge")
    a = status["a"]
    assert a["status"] == "merged" and a["attempts"] == 1, f"{a}\n" + story(control, "a")
    assert remote_has_hello(remote)
    answered = [r for r in sent_to_agent(control) if r.startswith("answered ")]
    assert answered and "Trust and continue" in answered[0], story(control, "a")
    assert reasons(control, "stuck") == []


def untrust_claude(control) -> None:  # type: ignore[no-untyped-def]
    state = Path(control.env["HOME"]) / ".claude.json"
    data = json.loads(state.read_text())
    data["projects"] = {}
    state.write_text(json.dumps(data))


def test_claude_trust_dialog_is_stuck_naming_it_and_doctor_names_the_fix(control, remote, model,
                                                                        tmp_path):
    start(control, remote, model, tmp_path, "claude", EDIT, prepare=untrust_claude)
    status = beat_until(control, settled, timeout=60, what="claude's trust dialog to be judged")
    a = status["a"]
    assert a["status"] == "stuck", f"{a}\n" + story(control, "a")
    assert "trust" in a["reason"].lower(), a["reason"]
    for _ in range(2):
        control.doit("heartbeat")
    a = control.status()["a"]
    assert a["status"] == "stuck" and "trust" in a["reason"].lower() and a["attempts"] == 1, a
    assert sent_to_agent(control) == []
    assert not any(r.get("steps") for r in model.requests()), "the dialog was got past"
    doctor = control.doit("doctor", check=False)
    said = doctor.stdout + doctor.stderr
    clone = str(control.workdir / "repo")
    assert doctor.returncode != 0, said
    assert "not trusted" in said and clone in said and "hasTrustDialogAccepted" in said, said
    assert "doit doctor --fix" in said, said


REFUSAL = "cannot be used with root/sudo privileges"


@pytest.mark.skipif(os.geteuid() != 0, reason="claude refuses --dangerously-skip-permissions "
                                              "only as root; this test runs as a normal user")
def test_claude_as_root_without_is_sandbox_names_the_refusal(control, remote, model, tmp_path,
                                                             monkeypatch):
    """claude refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1, and would
    refuse every attempt alike: launch says so in one line and spends no attempt."""
    monkeypatch.delenv("IS_SANDBOX", raising=False)  # this machine's own environment sets it
    isolate(control, model, tmp_path)
    control.env.pop("IS_SANDBOX", None)
    script(model, EDIT)
    control.write(manifest([[{"id": "a", "title": "Add hello.txt", "files": ["hello.txt"]}]],
                           repo=str(remote), agent="claude"))
    result = control.doit("launch", check=False)
    assert result.returncode != 0
    assert "refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1" in result.stderr
    status = control.status()["a"]
    assert (status["status"], status["attempts"]) == ("pending", 0)
    assert not any(r.get("steps") for r in model.requests())
    doctor = control.doit("doctor", check=False)
    assert "IS_SANDBOX" in doctor.stdout + doctor.stderr
