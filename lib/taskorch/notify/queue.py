"""The notification queue and its worker: delivery never holds a tick.

The tick (journal.py) writes one file per (event, sink) into `<workdir>/notify/queue/`, named
`<journal seq>-<order>-<sink id>.json` so that names sort in journal order, then makes sure a
worker runs. The worker (`python -m taskorch.notify.queue <dir>`, detached, one per project:
it holds `worker.lock`) sends each sink's events in order, one thread per sink so a hanging one
delays no other. A failed call is tried again after 1, 2, 4... s, `retries` times; then the event
is given up (kept in `failed/`) and the sink is written to `health.json`, which `doit status`
shows until the sink takes an event again. A sink that gave up gets one try per event until
then, so a dead webhook costs one timeout per event, not four.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from taskorch.layout import Layout, write_atomic
from taskorch.notify import kind_of_sink, label
from taskorch.notify.base import RETRIES
from taskorch.state import stamp

BACKOFF = 1.0       # seconds before the first retry, doubling, capped at BACKOFF_CAP
BACKOFF_CAP = 60.0
KEEP_FAILED = 50    # given-up events kept in failed/ to look at
POLL = 0.2


def folder(layout: Layout) -> Path:
    return layout.root / "notify"


def sink_id(spec: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]


def put(where: Path, seq: int, order: int, spec: dict[str, Any], event: dict[str, Any],
        cwd: Path) -> None:
    item = {"sink": spec, "label": label(spec), "cwd": str(cwd), "event": event, "tries": 0,
            "next_at": 0.0}
    write_atomic(where / "queue" / f"{seq:012d}-{order}-{sink_id(spec)}.json", json.dumps(item))


def queued(where: Path) -> list[Path]:
    try:
        return sorted(p for p in (where / "queue").iterdir() if p.suffix == ".json")
    except OSError:
        return []


def ensure_worker(where: Path) -> bool:
    """Start the worker when there is work and none runs (the lock says); True if started."""
    if not queued(where):
        return False
    with open(where / "worker.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a worker runs; it picks up what was just queued
    subprocess.Popen([sys.executable, "-m", "taskorch.notify.queue", str(where)],
                     start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return True


# ---------------------------------------------------------------------------------------------
# Health: what `doit status` shows.


def read_health(where: Path) -> dict[str, Any]:
    try:
        data = json.loads((where / "health.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def health(layout: Layout) -> list[dict[str, Any]]:
    """Sinks whose last call failed: which, why, when, events given up, tries of the current."""
    return [{"sink": v.get("label", k), "error": v.get("error", ""), "at": v.get("at"),
             "givenUp": v.get("given_up", 0), "tries": v.get("tries", 0)}
            for k, v in sorted(read_health(folder(layout)).items()) if isinstance(v, dict)]


def health_text(failing: list[dict[str, Any]]) -> str:
    return "notify failing: " + ", ".join(
        f"{f['sink']} ({f['error']}; "
        + (f"{f['givenUp']} event(s) given up" if f["givenUp"] else f"retrying, try {f['tries']}")
        + ")" for f in failing)


# ---------------------------------------------------------------------------------------------
# The worker.


class Worker:
    def __init__(self, where: Path):
        self.where = where
        self.lock = threading.Lock()

    def note(self, ident: str, name: str, error: str | None, gave_up: bool = False,
             tries: int = 0) -> None:
        with self.lock:
            data = read_health(self.where)
            if error is None:
                if ident not in data:
                    return
                data.pop(ident)
            else:
                before = data.get(ident, {})
                data[ident] = {"label": name, "error": error, "at": stamp(time.time()),
                               "tries": tries,
                               "given_up": before.get("given_up", 0) + (1 if gave_up else 0)}
            write_atomic(self.where / "health.json", json.dumps(data, indent=1) + "\n")

    def dead(self, ident: str) -> bool:
        with self.lock:
            return bool(read_health(self.where).get(ident, {}).get("given_up"))

    def serve(self, ident: str) -> None:
        """Send one sink's events in journal order until none is left."""
        while True:
            mine = [p for p in queued(self.where) if p.stem.endswith("-" + ident)]
            if not mine:
                return
            path = mine[0]
            try:
                item = json.loads(path.read_text())
                spec, event = item["sink"], item["event"]
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            wait = float(item.get("next_at", 0)) - time.time()
            if wait > 0:
                time.sleep(min(wait, 1.0))
                continue
            line = json.dumps(event, ensure_ascii=False) + "\n"
            try:
                error = kind_of_sink(spec).send(spec, event, line, item.get("cwd"))
            except Exception as exc:  # a sink must never end the worker
                error = f"{type(exc).__name__}: {exc}"
            item["tries"] = int(item.get("tries", 0)) + 1
            if error is None:
                path.unlink(missing_ok=True)
                self.note(ident, item["label"], None)
                continue
            allowed = 1 if self.dead(ident) else 1 + int(spec.get("retries", RETRIES))
            item["error"] = error
            if item["tries"] >= allowed:
                failed = self.where / "failed"
                write_atomic(failed / path.name, json.dumps(item))
                path.unlink(missing_ok=True)
                for old in sorted(failed.iterdir())[:-KEEP_FAILED]:
                    old.unlink(missing_ok=True)
                self.note(ident, item["label"], error, gave_up=True, tries=item["tries"])
            else:
                item["next_at"] = time.time() + min(BACKOFF_CAP,
                                                    BACKOFF * 2 ** (item["tries"] - 1))
                write_atomic(path, json.dumps(item))
                self.note(ident, item["label"], error, tries=item["tries"])

    def drain(self) -> None:
        threads: dict[str, threading.Thread] = {}
        while True:
            idents = {p.stem.rsplit("-", 1)[1] for p in queued(self.where)}
            for ident in idents:
                if ident not in threads or not threads[ident].is_alive():
                    threads[ident] = threading.Thread(target=self.serve, args=(ident,),
                                                      daemon=True)
                    threads[ident].start()
            if not idents and not any(t.is_alive() for t in threads.values()):
                return
            time.sleep(POLL)


def main(argv: list[str] | None = None) -> int:
    where = Path((argv or sys.argv[1:])[0])
    while where.is_dir():
        with open(where / "worker.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return 0  # another worker has it
            Worker(where).drain()
        # What a tick queued after the last look, while the lock was still held, started no
        # worker: look once more after letting go.
        if not queued(where):
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
