"""The CSS class of a state: colour is how the DAG, the table and the timeline say state at a
glance, and a class name is built only from the known states, never from stored text."""

from __future__ import annotations

from taskorch.lifecycle import State

KNOWN = frozenset(state.value for state in State)


def css(state: str) -> str:
    return f"s-{state}" if state in KNOWN else "s-other"
