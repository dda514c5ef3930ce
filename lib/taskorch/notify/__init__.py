"""Notification sinks (issue 12): a registry of kinds, one short module each, like signals/.

The manifest's `notify:` is a list of sinks, each a mapping whose kind is its one kind key
(`command:` or `webhook:`), with `timeout:` and `retries:` for every kind. The schema checks a
list with `problem`. journal.py turns the state journal into events each tick; queue.py's
detached worker delivers them.
"""

from __future__ import annotations

from typing import Any

from taskorch.notify.base import COMMON, Sink, common_problem
from taskorch.notify.command import Command
from taskorch.notify.webhook import Webhook

SINKS: dict[str, type[Sink]] = {
    "command": Command,
    "webhook": Webhook,
}
KINDS = ("needs_you", "ci_failed", "pr_opened", "merged", "done")


def kind_of_sink(spec: dict[str, Any]) -> type[Sink]:
    return next(SINKS[k] for k in SINKS if k in spec)


def problem(value: Any) -> str | None:
    """None for a good `notify:` list, else the end of an error sentence."""
    names = " or ".join(f"'{k}'" for k in SINKS)
    if not isinstance(value, list):
        return "must be a list of sinks such as [{command: [program, args...]}, {webhook: URL}]"
    for i, spec in enumerate(value):
        kinds = [k for k in SINKS if isinstance(spec, dict) and k in spec]
        if len(kinds) != 1:
            return f"entry {i} must be a mapping with one of {names}"
        allowed = SINKS[kinds[0]].keys + COMMON
        unknown = sorted(set(spec) - set(allowed))
        if unknown:
            return f"entry {i} has unknown key '{unknown[0]}'; use {', '.join(allowed)}"
        found = SINKS[kinds[0]].problem(spec) or common_problem(spec)
        if found:
            return f"entry {i}: {found}"
    return None


def label(spec: dict[str, Any]) -> str:
    return kind_of_sink(spec).label(spec)


__all__ = ["KINDS", "SINKS", "Sink", "label", "problem"]
