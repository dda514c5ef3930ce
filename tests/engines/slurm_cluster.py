"""A real one-node Slurm cluster (Debian's slurm-wlm 22.05) in private namespaces, for tests.

    with SlurmCluster(tmp_path) as cluster:
        env = {**os.environ, **cluster.env()}          # PATH gets sbatch, squeue, ... wrappers
        subprocess.run(["sbatch", "--parsable", "--wrap", "true"], env=env)

slurmctld and slurmd run in their own PID, network, mount, UTS and IPC namespaces (`unshare`), so
nothing of the machine's own Slurm or munge is used or touched and `stop()` ends every process
the cluster started, jobs included: when the namespace's init dies the kernel kills the rest.
Every config, state, spool and log file lives under the given directory. Authentication is
`auth/none` with `cred/none` (Slurm 22.05 still ships both), so no munged is needed.

The namespace has its own loopback plus one non-loopback address (Slurm needs one): a dummy
interface where the kernel has the module, else both ends of a veth pair, else an empty bridge.
Jobs run as the submitting user (root: entering a network namespace needs it), see the host's
file system (the mount namespace starts as a copy), inherit the submitter's environment
(`--export=ALL`, Slurm's default: PATH, a venv's python), and see only the namespace's network.

Client commands reach the cluster through wrapper scripts in `<dir>/bin`: each sets SLURM_CONF
and `nsenter`s the namespace's network only, so the caller's working directory and paths stay
as they are. There is no slurmdbd (it needs MySQL/MariaDB), hence no `sacct` data: the wrapper
exists, but `sacct` answers that accounting storage is disabled. Finished jobs stay visible to
`squeue --states=all` and `scontrol show job` for MinJobAge seconds (default here: 1 hour), with
their exit codes, and every finished job is also a line in `<dir>/jobcomp.txt`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from namespaces import die_with_parent, find_init, kill_namespace, processes_in

CLIENTS = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo", "srun")
HOSTNAME = "taskorch-slurm"
ADDRESS = "10.250.0.1"

INIT = r"""#!/bin/bash
# The namespace's init (PID 1): network, hostname, then the two daemons in the foreground.
set -u
exec >>"$DIR/log/init.log" 2>&1
ip link set lo up
if ip link add slurm0 type dummy 2>/dev/null; then dev=slurm0
elif ip link add slurm0 type veth peer name slurm1 2>/dev/null; then ip link set slurm1 up; dev=slurm0
elif ip link add slurm0 type bridge 2>/dev/null; then dev=slurm0
else echo "no dummy, veth or bridge interface available" >&2; exit 1
fi
ip addr add "$ADDRESS/24" dev "$dev" && ip link set "$dev" up || exit 1
echo "interface: $(ip -o link show "$dev" | cut -d' ' -f2,3)"
hostname "$HOSTNAME" || exit 1
/usr/sbin/slurmctld -D -f "$DIR/slurm.conf" &
/usr/sbin/slurmd -D -f "$DIR/slurm.conf" &
# Reap every orphan (slurmstepd daemonizes, so job steps end up as our children) until killed.
while true; do wait; sleep 1; done
"""

WRAPPER = """#!/bin/sh
# {name} for the test Slurm cluster in {dir}
if [ "$(readlink /proc/{pid}/ns/net 2>/dev/null)" != "{netns}" ]; then
  echo "{name}: the test Slurm cluster in {dir} is not running" >&2
  exit 1
fi
SLURM_CONF={dir}/slurm.conf
export SLURM_CONF
exec nsenter --target {pid} --net -- {real} "$@"
"""


def installed() -> str | None:
    """None when this machine can run a SlurmCluster, else why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, nsenter)"
    for path in ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch"):
        if not os.path.exists(path):
            return f"{path} is missing: run tests/engines/slurm/install.sh"
    for tool in ("unshare", "nsenter", "ip"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return f"{tool} is missing: run tests/engines/slurm/install.sh"
    return None


class SlurmCluster:
    """One slurmctld + one slurmd in private namespaces, with every file under `path`."""

    def __init__(self, path: Path | str, cpus: int = 64, min_job_age: int = 3600,
                 partition: str = "agents", start_timeout: float = 30.0,
                 scheduler_parameters: str = "batch_sched_delay=0,sched_min_interval=0"):
        self.path = Path(path).resolve()
        self.cpus = cpus  # advertised CPUs (config_overrides): how many 1-CPU jobs run at once
        self.min_job_age = min_job_age
        self.partition = partition
        self.start_timeout = start_timeout
        # Slurm's default batch_sched_delay=3 starts a batch job up to 3 s after its submit
        # (measured: 2 s each); 0 starts it at once. Pass "" for Slurm's defaults.
        self.scheduler_parameters = scheduler_parameters
        self.bin = self.path / "bin"
        self.conf = self.path / "slurm.conf"
        self.proc: subprocess.Popen[bytes] | None = None
        self.init_pid: int | None = None  # host PID of the namespace's init
        self.pidns: str | None = None
        self.netns: str | None = None
        self.timings: dict[str, float] = {}
        self.spool = str(self.path / "spool")
        self.spool_link: Path | None = None  # see _short_spool

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "SlurmCluster":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> "SlurmCluster":
        why = installed()
        if why:
            raise RuntimeError(f"cannot start a Slurm test cluster: {why}")
        t0 = time.monotonic()
        for sub in ("state", "spool", "log", "bin"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self.spool = self._short_spool()
        self._write_config()
        init = self.path / "init.sh"
        init.write_text(INIT)
        init.chmod(0o755)
        env = {**os.environ, "DIR": str(self.path), "ADDRESS": ADDRESS, "HOSTNAME": HOSTNAME,
               "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}
        env.pop("SLURM_CONF", None)
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--net", "--mount", "--uts", "--ipc", "--fork", "--mount-proc",
             "--kill-child", str(init)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.path / "log" / "unshare.log", "ab"),
            preexec_fn=die_with_parent, start_new_session=True)
        try:
            self._find_init()
            self._write_wrappers()
            self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def stop(self) -> list[str]:
        """Kill the namespace (daemons and jobs alike); return what survived (nothing, normally)."""
        t0 = time.monotonic()
        if self.proc is None:
            self._remove_spool_link()
            return []
        survivors = kill_namespace(self.proc, self.init_pid, self.pidns)
        self.proc = None
        self._remove_spool_link()
        self.timings["stop"] = time.monotonic() - t0
        return survivors

    # -- for tests ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment entries that send `sbatch`, `squeue`, ... to this cluster."""
        return {"PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                "SLURM_CONF": str(self.conf)}

    def run(self, *args: str, check: bool = True, timeout: float = 30,
            **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a client command (`sbatch`, `squeue`, ...) through its wrapper."""
        cmd = [str(self.bin / args[0]), *args[1:]]
        return subprocess.run(cmd, env={**os.environ, **self.env(), **kwargs.pop("env", {})},
                              capture_output=True, text=True, check=check, timeout=timeout,
                              **kwargs)

    def exec(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run any command inside the cluster's network, PID and mount namespaces."""
        assert self.init_pid
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(["nsenter", "--target", str(self.init_pid), "--net", "--pid",
                               "--mount", "--uts", f"--wd={os.getcwd()}", "--", *args],
                              env={**os.environ, **self.env(), **kwargs.pop("env", {})}, **kwargs)

    def processes(self) -> list[str]:
        """`pid command` of every host process in the cluster's PID namespace."""
        return processes_in(self.pidns)

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, ExitCode, ...); {} once the record is gone."""
        out = self.run("scontrol", "show", "job", "--oneliner", job_id, check=False).stdout
        return dict(re.findall(r"(\w+)=(\S*)", out))

    def logs(self) -> str:
        """The tails of slurmctld's and slurmd's logs (init's and unshare's while those are absent)."""
        parts = []
        logs = sorted((self.path / "log").glob("slurm*.log")) or \
            sorted((self.path / "log").glob("*.log"))
        for log in logs:
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    # -- internals ---------------------------------------------------------------------------

    def _write_config(self) -> None:
        d = self.path
        (d / "plugstack.conf").write_text("")
        self.conf.write_text(f"""\
# A one-node test cluster; every path is under {d}
ClusterName=taskorch
SlurmctldHost={HOSTNAME}({ADDRESS})
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation={d}/state
SlurmdSpoolDir={self.spool}
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={d}/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={d}/jobcomp.txt
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters={self.scheduler_parameters}
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge={self.min_job_age}
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName={HOSTNAME} NodeAddr={ADDRESS} CPUs={self.cpus} RealMemory=1000 State=UNKNOWN
PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")

    def _short_spool(self) -> str:
        """slurmd's spool path, short enough for the step sockets it binds there.

        A Unix socket path has at most 107 bytes, and slurmd names its sockets
        `<spool>/<node>_<job>.<step>` (`taskorch-slurm_1.4294967291`): under pytest-xdist's deep
        tmp_path that is too long, and every job fails to start. Then a short symlink in /tmp
        points at `<dir>/spool` (removed by stop()); the files stay under `<dir>`.
        """
        spool = self.path / "spool"
        if len(str(spool)) <= 64:
            return str(spool)
        link = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp")) / "s"
        link.symlink_to(spool)
        self.spool_link = link
        return str(link)

    def _remove_spool_link(self) -> None:
        if self.spool_link:
            shutil.rmtree(self.spool_link.parent, ignore_errors=True)
            self.spool_link = None

    def _find_init(self) -> None:
        assert self.proc
        self.init_pid, self.pidns, self.netns = find_init(self.proc, self.logs)

    def _write_wrappers(self) -> None:
        for name in CLIENTS:
            real = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin") or f"/usr/bin/{name}"
            wrapper = self.bin / name
            wrapper.write_text(WRAPPER.format(name=name, dir=self.path, pid=self.init_pid,
                                              netns=self.netns, real=real))
            wrapper.chmod(0o755)

    def _wait_ready(self, t0: float) -> None:
        """Until the node is idle in the partition: then a job submitted now starts at once."""
        assert self.proc
        deadline = t0 + self.start_timeout
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Slurm namespace exited\n{self.logs()}")
            r = self.run("sinfo", "--noheader", "--format=%t", check=False, timeout=10)
            state = r.stdout.strip()
            if r.returncode == 0 and state in ("idle", "mix", "alloc"):
                return
            time.sleep(0.02)
        raise RuntimeError(f"Slurm test cluster not ready after {self.start_timeout}s "
                           f"(node state {state!r})\n{self.logs()}")


# The fixture lives here, not in a tests/engines/conftest.py: a second `conftest` module would
# shadow tests/conftest.py for every `from conftest import ...` in the suite. Import it with
# `from slurm_cluster import slurm_cluster`.
@pytest.fixture
def slurm_cluster(tmp_path: Path) -> Iterator[SlurmCluster]:
    """A started one-node Slurm cluster; stopped, with no process left, whatever the test did."""
    why = installed()
    if why:
        pytest.skip(f"Slurm test cluster: {why}")
    cluster = SlurmCluster(tmp_path / "slurm").start()
    try:
        yield cluster
    finally:
        survivors = cluster.stop()
        print(cluster.logs())  # shown by pytest when the test failed
        print(f"slurm cluster: start {cluster.timings['start']:.2f}s, "
              f"stop {cluster.timings['stop']:.3f}s")
    assert not survivors, f"processes outlived the Slurm test cluster: {survivors}"
