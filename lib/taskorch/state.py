"""The runtime store: one row per task and an append-only journal of state changes.

SQLite in WAL mode, one transaction per change, so a process killed at any point leaves either
the old row and no event or the new row and its event. The manifest's runtime fields only seed
rows that do not exist yet; after that the store is the truth.
"""

from __future__ import annotations

import calendar
import datetime as dt
import shlex
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Collection, Iterator

from doit.exceptions import InvalidTask

from taskorch import lifecycle
from taskorch.errors import TaskorchError
from taskorch.manifest import Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    branch TEXT, worktree TEXT, session TEXT, pr_number INTEGER,
    started_at TEXT, completed_at TEXT, last_progress TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    task TEXT NOT NULL,
    old TEXT,
    new TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_task ON events(task, seq);
"""
# Columns the heartbeat added after the first release; `Store` adds them to older databases.
HEARTBEAT_COLUMNS = {
    "base_commit": "TEXT",      # the commit the branch started from
    "head": "TEXT",             # the branch head last seen (a new commit is progress)
    "screen": "TEXT",           # fingerprint of the screen last seen, spinners and timers removed
    "activity": "INTEGER",      # the runner's last output time last seen
    "nudged_at": "TEXT",        # when a stalled agent was last nudged
    "retry_at": "TEXT",         # when a failed task may be restarted
    "answered": "TEXT",         # fingerprint of the screen last answered, so nothing is sent twice
    "says": "TEXT",             # what that screen said: 'waiting:<question>', 'idle' or ''
    "delivery": "TEXT",         # the pushed branch or pull request
    "pr_base": "TEXT",          # the branch that pull request targets
    "checked_base": "TEXT",     # the remote base's head when the delivery was last checked
    "push_failures": "INTEGER NOT NULL DEFAULT 0",  # in a row, for the push backoff
    "verified": "TEXT",         # the commit verify passed: what is pushed and merged, nothing newer

    "budget_from": "INTEGER NOT NULL DEFAULT 0",  # attempts before the last `doit retry`
    "rounds": "INTEGER NOT NULL DEFAULT 0",  # times the merge gate sent it back (mergegate.py)
}
# Columns the journal added after the first release: what caused each change (lifecycle.Event;
# NULL for a note, and in older rows).
EVENT_COLUMNS = {"event": "TEXT"}
COLUMNS = ("status", "reason", "attempts", "branch", "worktree", "session", "pr_number",
           "started_at", "completed_at", "last_progress", *HEARTBEAT_COLUMNS)
# Given a task the store has no row for, what git still knows of it: an object with `status`,
# `reason` and `fields` (recover.Found), or None for a task never started.
Recover = Callable[[Task], Any]
SEED_COLUMNS = {"worktree": "worktree", "tmuxSession": "session", "prNumber": "pr_number",
                "startedAt": "started_at", "completedAt": "completed_at",
                "lastProgress": "last_progress"}


def now() -> str:
    return stamp(dt.datetime.now(dt.timezone.utc).timestamp())


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text: str | None) -> float | None:
    """Seconds since the epoch of a stamp(); by hand, since strptime took 0.4 s of a 20,000-task
    `doit status` (once per row)."""
    if not text:
        return None
    if len(text) == 20 and text[4] == "-" and text[10] == "T" and text[19] == "Z":
        return float(calendar.timegm((int(text[0:4]), int(text[5:7]), int(text[8:10]),
                                      int(text[11:13]), int(text[14:16]), int(text[17:19]))))
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc).timestamp()


@dataclass(frozen=True)
class TaskRow:
    id: str
    status: str
    reason: str
    attempts: int
    branch: str | None
    worktree: str | None
    session: str | None
    pr_number: int | None
    started_at: str | None
    completed_at: str | None
    last_progress: str | None
    updated_at: str
    base_commit: str | None = None
    head: str | None = None
    screen: str | None = None
    activity: int | None = None
    nudged_at: str | None = None
    retry_at: str | None = None
    answered: str | None = None
    budget_from: int = 0
    says: str | None = None
    delivery: str | None = None
    push_failures: int = 0
    pr_base: str | None = None
    checked_base: str | None = None
    verified: str | None = None
    rounds: int = 0


ROW_FIELDS = tuple(f.name for f in fields(TaskRow))


@dataclass(frozen=True)
class Event:
    seq: int
    at: str
    task: str
    old: str | None
    new: str
    reason: str
    event: str | None = None  # the lifecycle.Event that caused it; None for a note


# doit reports an InvalidTask as one line wherever it surfaces, in an action or in a launch
# gate's up-to-date check, where any other exception prints a traceback.
class StateError(TaskorchError, InvalidTask):
    """The state store cannot be read or written; the message names the file and what to do."""


def _advice(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        aside = f"mv {shlex.quote(str(path))} {shlex.quote(str(path) + '.damaged')}"
        return (f"the state store {path} is damaged ({text}): move it aside ({aside}) and run the "
                "command again; taskorch starts a new store from the manifest")
    if "disk" in text or "I/O" in text:
        return (f"cannot use the state store {path} ({text}): free space on its disk or fix the "
                "disk, then run the command again")
    return f"cannot use the state store {path}: {text}"


@contextmanager
def named_errors(path: Path) -> Iterator[None]:
    """SQLite's own errors ('file is not a database') do not say which file."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        # Constraint and programming errors are ours to fix, and a lock is contention, not damage.
        if type(exc) not in (sqlite3.DatabaseError, sqlite3.OperationalError) or "locked" in str(exc):
            raise
        raise StateError(_advice(path, exc)) from exc


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with named_errors(path):
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        for table, columns in (("tasks", HEARTBEAT_COLUMNS), ("events", EVENT_COLUMNS)):
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    try:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so read-then-write cannot interleave.
        with named_errors(self.path):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:  # a full disk may already have rolled it back
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def seed(self, tasks: list[Task], recover: Recover | None = None) -> None:
        """Insert rows for tasks the store has never seen: from what `recover` finds of them (a
        branch, a verified commit: see recover.py), else from the manifest's runtime fields."""
        known = {row[0] for row in self.db.execute("SELECT id FROM tasks")}
        fresh = [t for t in tasks if t.id not in known]
        if not fresh:
            return
        found = {t.id: f for t in fresh if recover and (f := recover(t)) is not None}
        stamp = now()
        with self.transaction() as db:
            for task in fresh:
                status = task.runtime.get("status", "pending")
                values = {SEED_COLUMNS[k]: v for k, v in task.runtime.items() if k in SEED_COLUMNS}
                values["attempts"] = 1 if status not in ("pending", "blocked") else 0
                why = "seeded from the manifest"
                if task.id in found:
                    status, why = found[task.id].status, found[task.id].reason
                    values = {"reason": why, **found[task.id].fields}
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO tasks (id, status, updated_at, {', '.join(values)}) "
                    f"VALUES (?, ?, ?{', ?' * len(values)})",
                    (task.id, status, stamp, *values.values()))
                if cursor.rowcount:
                    db.execute("INSERT INTO events (at, task, old, new, reason, event) "
                               "VALUES (?,?,?,?,?,?)",
                               (stamp, task.id, None, status, why, lifecycle.Event.SEEDED.value))

    def rows(self, *statuses: str) -> dict[str, TaskRow]:
        """Every task's row, or only those in `statuses` (a heartbeat's steps each need a few:
        building every row costs about 16 ms at 1,000 tasks)."""
        # Columns named in TaskRow's order and rows built positionally: a dict per row cost
        # 0.45 s at 20,000 tasks.
        query = f"SELECT {', '.join(ROW_FIELDS)} FROM tasks"
        args: tuple[str, ...] = ()
        if statuses:
            query += f" WHERE status IN ({', '.join('?' * len(statuses))})"
            args = statuses
        cursor = self.db.cursor()
        cursor.row_factory = None
        return {r[0]: TaskRow(*r) for r in cursor.execute(query, args)}

    def rows_of(self, ids: Collection[str]) -> dict[str, TaskRow]:
        """The rows of these tasks only (a big status lists a few of 20,000)."""
        ids, out = list(ids), {}
        cursor = self.db.cursor()
        cursor.row_factory = None
        for start in range(0, len(ids), 500):  # SQLite's limit on bound variables
            chunk = ids[start:start + 500]
            query = (f"SELECT {', '.join(ROW_FIELDS)} FROM tasks "
                     f"WHERE id IN ({', '.join('?' * len(chunk))})")
            out.update((r[0], TaskRow(*r)) for r in cursor.execute(query, chunk))
        return out

    def size(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]

    def statuses(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT id, status FROM tasks").fetchall())

    def last_event(self) -> int:
        """The journal's newest sequence number: every change of state adds one."""
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def moves(self, into: str, out_of: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """(at, task, old, new, reason) of every change into `into` or out of any of `out_of`,
        oldest first: the dashboard's attempt spans. Gate changes and notes, most of a big
        journal, are left in the database."""
        marks = ",".join("?" * len(out_of))
        return self.db.execute(
            "SELECT at, task, old, new, reason FROM events "
            f"WHERE (new = ? OR old IN ({marks})) AND (old IS NULL OR old != new) ORDER BY seq",
            (into, *out_of)).fetchall()

    def count(self, status: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM tasks WHERE status = ?", (status,)).fetchone()[0]

    def get(self, task_id: str) -> TaskRow | None:
        r = self.db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return TaskRow(**dict(r)) if r else None

    def transition(self, task_id: str, new: str, reason: str, *, event: lifecycle.Event | str,
                   **fields: Any) -> None:
        """Change a task's state and journal it, in one transaction. `event` is what caused it:
        a change lifecycle.TRANSITIONS does not allow raises IllegalTransition, changing nothing."""
        with self.transaction() as db:
            self._transition(db, task_id, new, reason, event, fields)

    def _transition(self, db: sqlite3.Connection, task_id: str, new: str, reason: str,
                    event: lifecycle.Event | str, fields: dict[str, Any]) -> None:
        unknown = set(fields) - set(COLUMNS)
        assert not unknown, unknown
        row = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
        old = row[0] if row else None
        lifecycle.check(old, new, event, task_id)  # against the row as it is inside this transaction
        new = lifecycle.State(new).value
        stamp = now()
        values = {"status": new, "reason": reason, **fields, "updated_at": stamp}
        db.execute(f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                   (*values.values(), task_id))
        db.execute("INSERT INTO events (at, task, old, new, reason, event) VALUES (?,?,?,?,?,?)",
                   (stamp, task_id, old, new, reason, lifecycle.Event(event).value))

    def update(self, changes: dict[str, dict[str, Any]]) -> None:
        """Record observations that are not state changes (progress, fingerprints), batched."""
        if not changes:
            return
        with self.transaction() as db:
            for task_id, values in changes.items():
                assert not set(values) - set(COLUMNS), values
                db.execute(f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                           (*values.values(), task_id))

    def note(self, task_id: str, reason: str) -> None:
        """Journal something done to a task that kept its state (an answer sent, a nudge)."""
        with self.transaction() as db:
            (state,) = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
            db.execute("INSERT INTO events (at, task, old, new, reason) VALUES (?,?,?,?,?)",
                       (now(), task_id, state, state, reason))

    def transitions(self, changes: list[tuple[str, str, str]], *,
                    event: lifecycle.Event | str) -> None:
        """Several (task, new state, reason) changes caused by one `event`, in one transaction:
        one illegal change rolls them all back."""
        if changes:
            with self.transaction() as db:
                for task_id, new, reason in changes:
                    self._transition(db, task_id, new, reason, event, {})

    def events(self, task_id: str | None = None, limit: int = 50) -> list[Event]:
        query = "SELECT * FROM events" + (" WHERE task = ?" if task_id else "")
        rows = self.db.execute(query + " ORDER BY seq DESC LIMIT ?",
                               ((task_id,) if task_id else ()) + (limit,))
        return [Event(**dict(r)) for r in reversed(rows.fetchall())]
