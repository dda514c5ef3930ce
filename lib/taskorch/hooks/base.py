"""What an interactive agent's own hooks say about its turn (issue 9: signals over screens), and
the Protocol every agent's hook wiring follows.

An interactive agent never exits when its turn ends, so its exit status says nothing, and its
screen is a guess. Claude Code's hooks and codex's `notify` program are the agents' own word:
for each attempt taskorch asks the agent to run `python -m taskorch.hooks.receive` on its hook
events, and the receiver appends one line per event to the attempt's hook record
(`runs/<id>/attempt-N.hooks.jsonl`). The heartbeat reads the last line as a fact.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from taskorch.signals.base import Signals

# What a hook event says, in taskorch's terms.
WORKING = "working"    # a tool ran, or a prompt was taken: not idle, whatever the screen shows
FINISHED = "finished"  # the turn ended normally: the agent is idle at its prompt
FAILED = "failed"      # the turn ended on an error (the detail says which)
ASKING = "asking"      # the agent waits for a person (the detail is the question)
FACTS = (WORKING, FINISHED, FAILED, ASKING)

DETAIL_WIDTH = 2000  # an event's detail is a reason or a question, never a transcript
TAIL_BYTES = 64 * 1024  # a long session's record is read from its end only


@dataclass(frozen=True)
class Heard:
    """One hook event, as the record keeps it."""

    fact: str
    event: str            # the agent's own name for it: Stop, PreToolUse, agent-turn-complete
    detail: str = ""
    progress: bool = True  # the agent did something; False for the echo of our own input
    at: float = 0.0
    prompt: bool = False   # a prompt was taken: a new turn starts (after a nudge or an answer)


class AgentHooks(Protocol):
    """One agent's way of calling the receiver. A registry in `__init__` maps the profile's
    `hooks:` name to an instance."""

    name: str
    asks: bool  # its hooks report every question the agent puts: the screen's are echoes
    works: bool  # its hooks report every tool call: a changed screen is not progress then

    def arguments(self, receiver: list[str], attempt_files: Path,
                  env: dict[str, str]) -> list[str]:
        """The argv elements that make the agent call `receiver` (an argv) on its hook events,
        added to the user's own agent setup, never replacing it. `attempt_files` is a path
        prefix for any file the wiring needs (`runs/<id>/attempt-N`); `env` is the agent's."""
        ...

    def heard(self, payload: dict[str, Any], attempt_files: Path) -> Heard | None:
        """What one event's payload says about attempt `attempt_files` (its prompt is
        `<attempt_files>.prompt.md`); None for events that say nothing taskorch uses."""
        ...

    def report(self, payload: dict[str, Any], heard: Heard) -> Signals | None:
        """At a turn's end: the attempt's signals (usage above all), when the agent tells
        them; written to `attempt-N.signals.json` like an event stream's."""
        ...


INPUT = "taskorch-input"  # the record's name for text taskorch typed into the agent


def typed(record: Path, text: str) -> None:
    """Note, before it is sent, that taskorch types into the agent (a nudge, an answer): it
    starts a new turn, so a finished turn before it is history, and the agent's hook for that
    new turn names this text as its input (codex's notify)."""
    append(record, Heard(WORKING, INPUT, text, progress=False, at=now(), prompt=True))


def inputs(record: Path) -> list[str]:
    """Every text taskorch typed into this attempt's agent, oldest first."""
    try:
        lines = record.read_bytes().splitlines()
    except OSError:
        return []
    return [h.detail for line in lines if (h := parse(line)) and h.event == INPUT and h.detail]


def attempt_files(record: Path) -> Path:
    """The path prefix of the attempt a record belongs to: `runs/<id>/attempt-N`."""
    return record.with_name(record.name.removesuffix(".hooks.jsonl"))


def append(record: Path, heard: Heard) -> None:
    """One line per event, in one write: hooks of one agent may run concurrently."""
    line = json.dumps({**asdict(heard), "detail": heard.detail[:DETAIL_WIDTH]},
                      ensure_ascii=False) + "\n"
    record.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8", errors="replace"))
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Record:
    """What an attempt's hooks said so far: the last fact, and when the agent last did
    something (its own events, not the echo of a nudge)."""

    last: Heard | None
    progress_at: float | None


def read(record: Path) -> Record:
    """The record's last event and last progress; an empty Record when there is none yet."""
    try:
        with open(record, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL_BYTES))
            data = f.read()
    except OSError:
        return Record(None, None)
    events = [heard for line in data.splitlines() if (heard := parse(line)) is not None]
    progress = [e.at for e in events if e.progress]
    facts = in_turn(events)
    return Record(asked(facts) or (facts[-1] if facts else None),
                  max(progress) if progress else None)


def in_turn(events: list[Heard]) -> list[Heard]:
    """The events without stragglers: once a turn has ended, only a new prompt starts work
    again. Tool events run as async hooks, and one can land after the turn's Stop."""
    kept: list[Heard] = []
    for heard in events:
        ended = kept and kept[-1].fact in (FINISHED, FAILED)
        if not (ended and heard.fact == WORKING and not heard.prompt):
            kept.append(heard)
    return kept


def asked(events: list[Heard]) -> Heard | None:
    """The last event when it asks a person, worded as the first event of that question asked:
    Claude names the question (AskUserQuestion) before its generic `Claude needs your
    permission` notification."""
    streak = []
    for heard in reversed(events):
        if heard.fact != ASKING:
            break
        streak.append(heard)
    return replace(streak[0], detail=streak[-1].detail) if streak else None


def parse(line: bytes) -> Heard | None:
    """One record line, or None for a torn or foreign one."""
    try:
        data = json.loads(line)
        heard = Heard(str(data["fact"]), str(data["event"]), str(data.get("detail", "")),
                      bool(data.get("progress", True)), float(data["at"]),
                      bool(data.get("prompt", False)))
    except (ValueError, KeyError, TypeError):
        return None
    return heard if heard.fact in FACTS else None


def now() -> float:
    return time.time()
