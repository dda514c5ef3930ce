"""What the engine fixtures (slurm_cluster.py, ray_head.py) share: a daemon tree in its own PID
namespace, which dies with the test process and whose members can be listed from the host."""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path


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
