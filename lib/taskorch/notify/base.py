"""What every notification sink is (issue 12), and the checks all kinds share.

A sink takes one event (a JSON-able mapping) and delivers it within its timeout, or says why it
could not. It never raises: the worker (queue.py) counts a failure, retries it with backoff and
records it for `doit status`.
"""

from __future__ import annotations

from typing import Any, Protocol

TIMEOUT = 10.0      # seconds, each call of a sink (a sink's own `timeout:` replaces it)
RETRIES = 3         # tries after the first, per event and sink (a sink's own `retries:`)
COMMON = ("timeout", "retries")
EVENT_FIELDS = ("event", "project", "task", "state", "reason", "time", "text", "seq")


class Sink(Protocol):
    keys: tuple[str, ...]  # its own keys besides COMMON; the first names the kind

    @staticmethod
    def problem(spec: dict[str, Any]) -> str | None:
        """None for a good entry, else the end of an error sentence (without 'entry N: ')."""

    @staticmethod
    def label(spec: dict[str, Any]) -> str:
        """How `doit status` names it: nothing secret."""

    @staticmethod
    def send(spec: dict[str, Any], event: dict[str, Any], line: str, cwd: str | None) -> str | None:
        """Deliver one event (`line` is its JSON, newline-terminated): None, or why not."""


def common_problem(spec: dict[str, Any]) -> str | None:
    timeout = spec.get("timeout", TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        return "timeout must be a number of seconds above 0"
    retries = spec.get("retries", RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        return "retries must be a whole number from 0 to 20"
    return None


def timeout_of(spec: dict[str, Any]) -> float:
    return float(spec.get("timeout", TIMEOUT))
