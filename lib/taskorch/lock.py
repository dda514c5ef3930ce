"""One lock file per work directory, held around every run that changes state."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class Busy(Exception):
    """Another taskorch process holds the lock."""


@contextmanager
def hold(path: Path, wait: float | None = 60.0) -> Iterator[None]:
    """Hold an exclusive lock; wait up to `wait` seconds (None: do not wait at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + (wait or 0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if wait is None or time.monotonic() >= deadline:
                    raise Busy(f"{path} is held by another taskorch run") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock, also when the process dies


def holder(path: Path) -> tuple[int | None, float] | None:
    """Who holds the lock and since when: (pid, epoch seconds), or None if nobody does.

    Probes with a shared lock taken and dropped at once: it never waits, and a heartbeat that
    meets the probe tries once more (see heartbeat.run)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            # The holder wrote its pid when it took the lock, so the file's mtime is since when.
            first = os.read(fd, 32).split(b"\n")[0].strip()
            return (int(first) if first.isdigit() else None), os.fstat(fd).st_mtime
        return None
    finally:
        os.close(fd)
