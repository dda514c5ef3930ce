"""What the engine fixtures (slurm_cluster.py, ray_head.py) share: a daemon tree in its own PID
namespace, which dies with the test process and whose members can be listed from the host."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable


def die_with_parent() -> None:
    """preexec_fn: if the test process dies, unshare gets SIGKILL, and --kill-child takes the
    namespace down."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def processes_in(pidns: str | None) -> list[str]:
    """`pid command` of every host process in the PID namespace `pidns` (a /proc ns link)."""
    if not pidns:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != pidns:
                continue
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        found.append(f"{entry} {cmd.decode(errors='replace').strip()}")
    return found


def find_init(proc: subprocess.Popen, logs: Callable[[], str]) -> tuple[int, str, str]:
    """(pid, pid namespace, net namespace) of the init that `unshare` (proc) forked, once it is
    in namespaces of its own; `logs` explains an unshare that exited instead."""
    deadline = time.monotonic() + 10
    unshare = proc.pid
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"unshare exited {proc.returncode}\n{logs()}")
        try:
            children = Path(f"/proc/{unshare}/task/{unshare}/children").read_text().split()
            if children:
                pid = int(children[0])
                pidns = os.readlink(f"/proc/{pid}/ns/pid")
                netns = os.readlink(f"/proc/{pid}/ns/net")
                if pidns != os.readlink("/proc/self/ns/pid") and \
                        netns != os.readlink("/proc/self/ns/net"):
                    return pid, pidns, netns
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("the namespace's init did not appear")


def kill_namespace(proc: subprocess.Popen, init_pid: int | None, pidns: str | None,
                   settle: float = 5.0) -> list[str]:
    """SIGKILL the namespace's PID 1, so the kernel kills everything in it; reap `unshare`
    (proc), wait up to `settle` seconds for the namespace to empty, and SIGKILL any survivor.
    Returns the survivors seen (`pid command`), which should be none."""
    if init_pid:
        try:
            os.kill(init_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:  # unshare reaps its child (the namespace's init) and exits; killing it first would
        proc.wait(timeout=5)  # leave that zombie to the machine's init, for ~1.5 s here
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    deadline = time.monotonic() + settle
    while (survivors := processes_in(pidns)) and time.monotonic() < deadline:
        time.sleep(0.02)
    for line in survivors:  # should never happen; kill them rather than leak them
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    return survivors
