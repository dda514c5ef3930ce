"""The processes of one attempt on this machine: recorded by the wrapper, found again, ended whole.

The wrapper writes `attempt-N.pid` beside the attempt's exit file before it starts the agent: its
own pid, process group and session, its start time (clock ticks since boot, from /proc/<pid>/stat)
and the boot it ran in, so a pid the kernel has since given to another program is never taken
for it. It also puts a marker, `TASKORCH_RUN=<work dir key>/<task>/<attempt>`, into the agent's
environment: a daemon that leaves the group with setsid still carries it, and /proc shows it.

Linux only (/proc); where /proc is missing nothing is found, and stop ends what tmux can.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "TASKORCH_RUN"
PROC = Path("/proc")


def pid_file(exit_file: Path) -> Path:
    """attempt-N.exit -> attempt-N.pid: the attempt's processes, beside how it ended."""
    return exit_file.with_suffix(".pid")


def boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Stat:
    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    start: int  # clock ticks after boot


def stat(pid: int) -> Stat | None:
    """The process's /proc stat, or None when it is gone (or only a zombie is left)."""
    try:
        raw = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = raw.rsplit(b")", 1)[1].split()  # the name in parentheses may hold anything
    if fields[0] in (b"Z", b"X"):
        return None
    return Stat(pid, fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]),
                int(fields[19]))


def record(path: Path, marker: str) -> None:
    """Written by the wrapper, about itself, before it starts the agent."""
    me = os.getpid()
    own = stat(me)
    info = {"pid": me, "start": own.start if own else None, "boot": boot_id(),
            "pgid": os.getpgid(0), "sid": os.getsid(0), "parent": os.getppid(), "marker": marker}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(info) + "\n")
    tmp.replace(path)


def read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def _mine(pid: int) -> bool:
    try:
        return (PROC / str(pid)).stat().st_uid == os.getuid()
    except OSError:
        return False


def _has_marker(pid: int, prefix: bytes) -> bool:
    try:
        env = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return any(item.startswith(prefix) for item in env.split(b"\0"))


def _spared() -> set[int]:
    """This process and its ancestors: a heartbeat an agent started must not end itself."""
    spared, pid = set(), os.getpid()
    while pid > 1 and pid not in spared:
        spared.add(pid)
        own = stat(pid)
        if own is None:
            break
        pid = own.ppid
    return spared


def _reused(record: dict) -> bool:
    """The wrapper's pid now names another process, so its group's id may name another group.
    (While the wrapper is gone but its group lives on, the kernel gives that id to no one.)"""
    leader = stat(record["pid"])
    return leader is not None and leader.start != record.get("start")


def members(records: list[dict], marker: str | None) -> list[int]:
    """Live processes of this user that belong to the recorded attempts: in a wrapper's process
    group or session and started no earlier than that wrapper (so not a reused id), or carrying
    the marker prefix in their environment. Never this process, its ancestors, or the server the
    wrappers ran under."""
    boot = boot_id()
    groups = [(r["pgid"], r.get("sid"), r["start"]) for r in records
              if r.get("boot") == boot and isinstance(r.get("start"), int)
              and r.get("pgid") == r.get("pid")  # only a wrapper that led its own group
              and not _reused(r)]
    spared = _spared() | {r["parent"] for r in records if isinstance(r.get("parent"), int)}
    needle = f"{MARKER}={marker}".encode() if marker else None
    found = []
    try:
        entries = os.listdir(PROC)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) in spared:
            continue
        pid = int(entry)
        if not _mine(pid) or (st := stat(pid)) is None:
            continue
        if any((st.pgrp == pgid or st.session == sid) and st.start >= start
               for pgid, sid, start in groups) or (needle and _has_marker(pid, needle)):
            found.append(pid)
    return found


def alive(records: list[dict]) -> bool:
    """Whether any recorded wrapper, or anything in its group or session, still runs."""
    boot = boot_id()
    for r in records:
        own = stat(r["pid"]) if r.get("boot") == boot else None
        if own is not None and own.start == r.get("start"):
            return True
    return bool(members(records, None))


def end(records: list[dict], marker: str | None, grace: float = 1.5, hard: float = 2.0) -> list[int]:
    """SIGTERM everything of the attempts, wait up to `grace`, then SIGKILL what is left and wait
    up to `hard`. Returns the pids still alive after that (empty: all gone)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, hard)):
        deadline = time.monotonic() + wait
        while True:
            pids = members(records, marker)
            if not pids:
                return []
            if time.monotonic() > deadline:
                break
            for pid in pids:  # again each round: a process may fork between two looks
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)
    return members(records, marker)


def describe(pids: list[int]) -> str:
    names = []
    for pid in pids[:5]:
        try:
            name = (PROC / str(pid) / "comm").read_text().strip()
        except OSError:
            name = "?"
        names.append(f"{pid} ({name})")
    return ", ".join(names) + (f" and {len(pids) - 5} more" if len(pids) > 5 else "")


# read(2)'s number, by machine: /proc/<pid>/syscall names the call a process is blocked in.
READ_SYSCALL = {"x86_64": "0", "aarch64": "63", "riscv64": "63", "i686": "3", "armv7l": "3"}


def reading_terminal(pid: int, depth: int = 4) -> bool:
    """Whether a process of `pid`'s tree, in its terminal's foreground group, is blocked reading
    that terminal: an agent waiting for an answer, whatever its screen says. Walks the tree
    through /proc/<pid>/task/<pid>/children, so it costs a few file reads, not a /proc scan."""
    call = READ_SYSCALL.get(os.uname().machine)
    top = _fields(pid)
    if call is None or top is None or int(top[5]) <= 0:
        return False
    foreground, todo = int(top[5]), [(pid, 0)]
    while todo:
        current, level = todo.pop()
        fields = _fields(current)
        if fields is not None and int(fields[2]) == foreground and _reads_tty(current, call):
            return True
        if level < depth:
            todo += [(child, level + 1) for child in _children(current)]
    return False


def _fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the name: state, ppid, pgrp, session, tty, tpgid..."""
    try:
        raw = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    return raw.rsplit(b")", 1)[1].split()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in (PROC / str(pid) / "task" / str(pid) / "children").read_text().split()]
    except (OSError, ValueError):
        return []


def _reads_tty(pid: int, call: str) -> bool:
    """Blocked in read(0, ...) with standard input a terminal."""
    try:
        words = (PROC / str(pid) / "syscall").read_text().split()
        stdin = os.readlink(PROC / str(pid) / "fd" / "0")
    except OSError:
        return False
    return words[:2] == [call, "0x0"] and stdin.startswith(("/dev/pts/", "/dev/tty"))
