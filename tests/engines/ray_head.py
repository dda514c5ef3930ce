"""A real local Ray head (2.60, `ray[default]`) in private namespaces, for tests.

    with RayHead(tmp_path / "ray") as head:
        urllib.request.urlopen(head.address + "/api/jobs/")    # the Jobs HTTP API, via a bridge

`ray stop` kills every Ray-named process on the machine, whoever started it (DESIGN.md), so the
head never runs in the machine's own namespaces: `unshare --pid --net --mount --fork
--mount-proc` gives it a PID namespace of its own (stop() SIGKILLs its PID 1, and the kernel
kills every process in it: raylet, GCS, dashboard, job supervisors, agents, setsid daemons) and
a network of its own with only loopback, where the dashboard listens on 127.0.0.1:8265. TMPDIR
and RAY_TMPDIR (Ray's sessions, sockets, logs) are under the given directory.

How the tests reach the head: `head.address` is `http://127.0.0.1:<port>` on the host, a small
TCP bridge in this process. Each connection accepted on the host is forwarded to 127.0.0.1:8265
inside the namespace by a socket that a thread created after `setns(CLONE_NEWNET)` (a socket
stays in the network namespace it was made in). So `doit` subprocesses, the runner's urllib and
the test itself use a plain URL, as against a remote head, and nothing runs inside the namespace
but Ray. (The other way, running every doit command under `nsenter --net`, would hide the
control side's own network, and 8265 could serve only one head per machine under xdist.)

Jobs run on this machine as root, see the host's file system (a bare remote by path, the test
venv) and inherit the head's environment: PATH starts with the test venv's bin, so a job's
`python3` is a python with taskorch importable (the scripted agents need it; the shipped job
itself needs only the standard library).
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from namespaces import die_with_parent, find_init, kill_namespace, processes_in

VENV = Path(subprocess.run(["bash", str(Path(__file__).parent / "ray" / "install.sh"), "--venv"],
                           capture_output=True, text=True).stdout.strip() or
            "/opt/taskorch-engines/ray-venv")
RAY = VENV / "bin" / "ray"
DASHBOARD = 8265
CLONE_NEWNET = 0x40000000
GCS = "127.0.0.1:6379"
# Ray's own config flags: the head takes a node for dead after 3 missed 1 s health checks
# (about 3 s, measured) instead of 5 missed 3 s ones (18 s, DESIGN.md), so the worker-death
# fault costs the suite seconds, not tens of them. Nothing else about the fault changes.
HEALTH_CHECKS = {"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "1000",
                 "RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "3"}

INIT = r"""#!/bin/bash
# The namespace's init (PID 1): loopback, then the Ray head in the foreground; reaps orphans.
set -u
exec >>"$DIR/init.log" 2>&1
ip link set lo up || exit 1
"$RAY" start --head --block --disable-usage-stats --node-ip-address=127.0.0.1 \
  --dashboard-host=127.0.0.1 --dashboard-port=8265 --num-cpus="$CPUS" \
  --resources="$RESOURCES" --temp-dir="$RAY_TMPDIR" &
while true; do wait; sleep 1; done
"""


def installed() -> str | None:
    """None when this machine can run a RayHead, else why not."""
    if os.geteuid() != 0:
        return "needs root (PID and network namespaces, setns)"
    if not RAY.exists():
        return f"{RAY} is missing: run tests/engines/ray/install.sh"
    for tool in ("unshare", "ip"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return f"{tool} is missing"
    return None


class RayHead:
    """One Ray head (GCS, raylet, dashboard) in private namespaces, with its files under `path`."""

    def __init__(self, path: Path | str, cpus: int = 8, resources: dict[str, float] | None = None,
                 start_timeout: float = 90.0):
        self.path = Path(path).resolve()
        self.cpus = cpus
        self.resources = resources if resources is not None else {"agent_slot": 4}
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.init_pid: int | None = None
        self.pidns: str | None = None
        self.netns_fd: int | None = None
        self.listener: socket.socket | None = None
        self.inside: _Inside | None = None
        self.address = ""
        self.timings: dict[str, float] = {}
        self.tmp_link: Path | None = None
        self.env: dict[str, str] = {}
        self.workers = 0

    def __enter__(self) -> "RayHead":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "RayHead":
        why = installed()
        if why:
            raise RuntimeError(f"cannot start a Ray test head: {why}")
        t0 = time.monotonic()
        self.path.mkdir(parents=True, exist_ok=True)
        init = self.path / "init.sh"
        init.write_text(INIT)
        init.chmod(0o755)
        tmp = self._short_tmp()
        venv_bin = str(Path(sys.executable).parent)  # the test venv: a job's python3 and agents
        env = {**os.environ, "DIR": str(self.path), "RAY": str(RAY), "CPUS": str(self.cpus),
               "RESOURCES": json.dumps(self.resources), "TMPDIR": tmp, "RAY_TMPDIR": tmp,
               "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}:/usr/sbin:/sbin"}
        for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
            env.pop(name, None)
        env.update(HEALTH_CHECKS)
        self.env = env
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--net", "--mount", "--fork", "--mount-proc", "--kill-child",
             str(init)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.path / "unshare.log", "ab"), preexec_fn=die_with_parent,
            start_new_session=True)
        try:
            self._find_init()
            self.inside = _Inside(self.netns_fd)  # a thread in the namespace makes inner sockets
            if self.listener is None:
                self._bridge()
            self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def stop(self, keep_address: bool = False) -> list[str]:
        """Kill the namespace (head, jobs, agents alike); return what survived (nothing).
        `keep_address`: the bridge stays, so a later start() is the same head come back, and
        clients meanwhile see their connections closed, as with a head that crashed."""
        t0 = time.monotonic()
        if self.listener and not keep_address:
            self.listener.close()
            self.listener = None
        if self.proc is None:
            return []
        survivors = kill_namespace(self.proc, self.init_pid, self.pidns, settle=10)
        if self.netns_fd is not None:
            os.close(self.netns_fd)
            self.netns_fd = None
        if self.tmp_link:
            shutil.rmtree(self.tmp_link.parent, ignore_errors=True)
            self.tmp_link = None
        self.proc = None
        self.timings["stop"] = time.monotonic() - t0
        return survivors

    def add_worker(self, resources: dict[str, float], cpus: int = 2,
                   timeout: float = 90.0) -> "RayWorker":
        """Start a second node (its own raylet and agents) in the head's namespaces, joined to
        the head's GCS, and wait until the head lists it ALIVE."""
        assert self.init_pid and self.env
        before = self._alive_nodes()
        self.workers += 1  # a dead node's agents may hold their ports a while: fresh ones
        ports = [f"--{name}-port={52400 + 10 * self.workers + i}" for i, name in enumerate((
            "dashboard-agent-listen", "dashboard-agent-grpc", "runtime-env-agent",
            "metrics-export"))]  # the head has Ray's defaults
        log = open(self.path / "worker.log", "ab")
        proc = subprocess.Popen(
            ["nsenter", "-t", str(self.init_pid), "--pid", "--net", "--mount", "--", str(RAY),
             "start", f"--address={GCS}", "--block", "--disable-usage-stats",
             "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
             f"--resources={json.dumps(resources)}", *ports],
            env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while len(self._alive_nodes() - before) < 1:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the Ray worker node did not join: "
                                   + (self.path / "worker.log").read_text()[-2000:])
            time.sleep(0.3)
        return RayWorker(proc)

    def _alive_nodes(self) -> set[str]:
        nodes = self.api("GET", "/nodes?view=summary")["data"]["summary"]
        return {n["raylet"]["nodeId"] for n in nodes if n["raylet"]["state"] == "ALIVE"}

    def restart(self) -> None:
        """Kill the head (and its jobs) and start a new one behind the same address, as a head
        that crashed and came back: the new head has no job records."""
        self.stop(keep_address=True)
        self.start()

    # -- for tests ---------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """One Jobs API call through the bridge, as JSON."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.address + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    def jobs(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/api/jobs/"))

    def processes(self) -> list[str]:
        """`pid command` of every host process in the head's PID namespace."""
        return processes_in(self.pidns)

    def logs(self) -> str:
        """The tails of init's, the dashboard's and the job agent's logs."""
        parts = []
        session = Path(self.tmp_dir()) / "session_latest" / "logs"
        for log in (self.path / "init.log", self.path / "unshare.log",
                    session / "dashboard.log", session / "dashboard_agent.log"):
            if log.exists():
                parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def tmp_dir(self) -> str:
        return str(self.tmp_link) if self.tmp_link else str(self.path / "tmp")

    # -- internals ---------------------------------------------------------------------------

    def _short_tmp(self) -> str:
        """Ray's temp dir, short enough for the Unix sockets Ray binds there (107 bytes at most,
        and Ray adds `session_<date>_<pid>/sockets/plasma_store`): under xdist's deep tmp_path,
        a short symlink in /tmp points at `<dir>/tmp`; the files stay under `<dir>`."""
        real = self.path / "tmp"
        real.mkdir(exist_ok=True)
        if len(str(real)) <= 40:
            return str(real)
        if self.tmp_link is None:
            link = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp")) / "t"
            link.symlink_to(real)
            self.tmp_link = link
        return str(self.tmp_link)

    def _find_init(self) -> None:
        assert self.proc
        self.init_pid, self.pidns, _ = find_init(self.proc, self.logs)
        self.netns_fd = os.open(f"/proc/{self.init_pid}/ns/net", os.O_RDONLY)

    def _bridge(self) -> None:
        """Listen on the host's 127.0.0.1 and forward each connection into the namespace."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.listener = listener
        self.address = f"http://127.0.0.1:{listener.getsockname()[1]}"
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                outer, _ = listener.accept()
            except OSError:
                return  # closed by stop()
            try:
                inner = self.inside.connect(("127.0.0.1", DASHBOARD))
            except (OSError, queue.Empty):
                outer.close()  # the head is not (or no longer) listening: the client sees a reset
                continue
            for a, b in ((outer, inner), (inner, outer)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def _wait_ready(self, t0: float) -> None:
        """Until the Jobs API answers: then a job submitted now is accepted."""
        assert self.proc
        deadline = t0 + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Ray namespace exited\n{self.logs()}")
            try:
                self.api("GET", "/api/jobs/", timeout=5)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Ray test head not ready after {self.start_timeout}s\n{self.logs()}")


class RayWorker:
    """A worker node started by RayHead.add_worker."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        self.proc = proc

    def die(self) -> None:
        """The node dies as a machine would: `ray start`, its raylet and agents are SIGKILLed
        at once. What its jobs started is left running: Ray's workers exit when their raylet
        goes, the agents under them are orphaned (DESIGN.md)."""
        ray_start = _children(self.proc.pid)  # nsenter's one child
        for pid in [self.proc.pid, *ray_start, *(c for p in ray_start for c in _children(p))]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class _Inside:
    """A thread that lives in the head's network namespace and makes sockets there for others."""

    def __init__(self, netns_fd: int | None):
        self.requests: "queue.Queue[tuple[Any, queue.Queue[Any]]]" = queue.Queue()
        self.fd = os.dup(netns_fd) if netns_fd is not None else None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(self.fd, CLONE_NEWNET) != 0:  # this thread only: the rest stays on the host
            err = ctypes.get_errno()
            while True:
                _, reply = self.requests.get()
                reply.put(OSError(err, "setns failed"))
        while True:
            where, reply = self.requests.get()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(5)
            try:
                sock.connect(where)
                sock.settimeout(None)
                reply.put(sock)
            except OSError as exc:
                sock.close()
                reply.put(exc)

    def connect(self, where: tuple[str, int]) -> socket.socket:
        reply: "queue.Queue[Any]" = queue.Queue()
        self.requests.put((where, reply))
        got = reply.get(timeout=10)
        if isinstance(got, Exception):
            raise got
        return got


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        dst.close()
        src.close()


# The fixture lives here, not in a tests/engines/conftest.py: a second `conftest` module would
# shadow tests/conftest.py for every `from conftest import ...` in the suite. Import it with
# `from ray_head import ray_head`. Module-scoped: a head costs ~6 s of two cores to start, and
# each test's project has its own key, so tests sharing a head never see each other's jobs.
@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> Iterator[RayHead]:
    """A started Ray head; stopped, with no process left, whatever the tests did."""
    why = installed()
    if why:
        pytest.skip(f"Ray test head: {why}")
    head = RayHead(tmp_path_factory.mktemp("ray")).start()
    try:
        yield head
    finally:
        survivors = head.stop()
        print(head.logs())  # shown by pytest when a test failed
        print(f"ray head: start {head.timings['start']:.2f}s, stop {head.timings['stop']:.3f}s")
    assert not survivors, f"processes outlived the Ray test head: {survivors}"
