"""The tick's side of notifications: the state journal -> the queue (queue.py).

Each tick reads the journal's events after a cursor (`notify/cursor`), maps each to a kind or
none (`kind_of`), queues one file per event and sink, and only then moves the cursor: each change
fires once. The journal holds states and reasons, so the kinds are read from those:

- `needs_you`: a task went stuck (a question, removed from the manifest, budget spent, stopped),
  or error with no retry coming (attempts spent, parents that conflict, a closed pull request,
  nothing verified to deliver);
- `pr_opened`: its verified work was delivered (`pr_open`);
- `merged`: its work is in the base;
- `done`: every task is merged or skipped, once each time that becomes true;
- `ci_failed`: the merge gate's checks failed (lifecycle.Event.CHECKS_FAILED), whether the task
  went back to its agent or waits for a person; a conflict left for a person is `needs_you`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from taskorch.layout import write_atomic
from taskorch.lifecycle import Event
from taskorch.notify.command import Command
from taskorch.notify.queue import ensure_worker, folder, put
from taskorch.project import Project, tally
from taskorch.state import epoch, stamp

BATCH = 1000  # journal events read per tick at most; the rest the next tick
# heal.fail and `doit retry` say when an error will be retried; any other error waits for a person
RETRYING = re.compile(r"; retry \d+ of \d+ at |^retry asked by hand")
ENDED = ("merged", "skipped")
WORDS = {"needs_you": "needs you", "pr_opened": "was delivered", "merged": "was merged",
         "ci_failed": "failed its checks"}


def kind_of(old: str | None, new: str, reason: str, event: str | None = None) -> str | None:
    """The notification a journal event is, or None. Seeds, notes and other same-state changes
    are none. `event` is the lifecycle.Event that caused it (None in rows older than the
    journal's event column)."""
    if event == Event.CHECKS_FAILED:
        return "ci_failed"  # whatever the reaction: back to its agent, or left for a person
    if event in (Event.CONFLICTED, Event.CHANGES_REQUESTED):
        return "needs_you" if new == "pr_open" else None  # else its agent is on it
    if old is None or old == new:
        return None
    if new == "stuck":
        return "needs_you"
    if new == "error":
        return None if RETRYING.search(reason) else "needs_you"
    return {"pr_open": "pr_opened", "merged": "merged"}.get(new)


def text_of(event: dict[str, Any]) -> str:
    """One line a chat shows (Slack-compatible webhooks show `text`)."""
    head = f"[{event['project']}]"
    if event["event"] == "done":
        return f"{head} done: every task is merged or skipped ({event['reason']})"
    return (f"{head} {event['task']} {WORDS[event['event']]} ({event['state']}): "
            f"{event['reason']}")


def start_after(project: Project) -> int:
    """Where a missing cursor starts: at the beginning for a project that never ticked, else at
    the previous tick, so a `notify:` added to a running project does not replay its past."""
    try:
        last = epoch(project.layout.last_tick.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return 0
    if last is None:
        return 0
    row = project.store.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE at < ?",
                                   (stamp(last),)).fetchone()
    return int(row[0])


def events(project: Project, after: int) -> tuple[list[tuple[int, int, dict[str, Any]]], int]:
    """The notifications of the journal's events after `after`, as (seq, order, event), and the
    last seq read."""
    rows = project.store.db.execute(
        "SELECT seq, at, task, old, new, reason, event FROM events WHERE seq > ? ORDER BY seq "
        "LIMIT ?", (after, BATCH)).fetchall()
    name, out, ended = project.manifest.project, [], None
    for seq, at, task, old, new, reason, event in rows:
        kind = kind_of(old, new, reason, event)
        if kind:
            out.append((seq, 0, {"event": kind, "project": name, "task": task, "state": new,
                                 "reason": reason, "time": at, "seq": seq}))
        if new in ENDED and old != new:
            ended = (seq, at)
    if ended:
        statuses = [s for t, s in project.store.statuses().items() if t in project.task_ids]
        if statuses and all(s in ENDED for s in statuses):
            out.append((ended[0], 1, {"event": "done", "project": name, "state": "done",
                                      "reason": tally(statuses), "time": ended[1],
                                      "seq": ended[0]}))
    for _, _, event in out:
        event["text"] = text_of(event)
    return out, (rows[-1][0] if rows else after)


def step(project: Project) -> list[str]:
    """The heartbeat's step: queue what changed since the last tick, and make sure a worker
    delivers it. Sends nothing itself."""
    sinks, where = project.manifest.notify or [], folder(project.layout)
    cursor = where / "cursor"
    if not sinks:
        cursor.unlink(missing_ok=True)  # a `notify:` added later starts from then
        return []
    try:
        after = int(json.loads(cursor.read_text())["seq"])
    except (OSError, ValueError, KeyError, TypeError):
        after = start_after(project)
    found, last = events(project, after)
    root = project.manifest.root
    live = [s for s in sinks if not (s.get("optional") and "command" in s
                                     and not Command.installed(s, root))]
    for seq, order, event in found:
        for spec in live:
            put(where, seq, order, spec, event, root)
    if last != after:
        write_atomic(cursor, json.dumps({"seq": last}) + "\n")
    ensure_worker(where)
    if not found or not live:
        return []
    return [f"notify: {len(found)} event(s) queued for {len(live)} sink(s) "
            f"({', '.join(sorted({e['event'] for _, _, e in found}))})"]

