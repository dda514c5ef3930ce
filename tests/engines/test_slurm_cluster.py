"""The Slurm test cluster itself: submit, observe, exit codes, scancel, and what it costs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import wait_for
from slurm_cluster import slurm_cluster  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slurm


def host_processes(token: str) -> list[str]:
    """Host PIDs whose command line holds `token`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if token in cmd:
                found.append(f"{entry} {cmd}")
    return found


def test_a_job_runs_as_us_on_our_files_and_reports_its_exit_code(slurm_cluster, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    gate = work / "go"
    # doit will call the commands by name: put the wrappers first on PATH, as a runner sees them.
    env = {**os.environ, **slurm_cluster.env()}
    script = (f"set -e; id -u > uid; command -v python3 > python; {sys.executable} -c 'print(1)' > py;"
              f" git ls-remote {bare} > lsremote; echo $PWD > pwd;"
              f" while [ ! -e {gate} ]; do sleep 0.05; done; echo done > out; exit 3")
    submit = subprocess.run(["sbatch", "--parsable", f"--output={work}/job.log", "--job-name=probe",
                             "--wrap", script], cwd=work, env=env, capture_output=True, text=True,
                            check=True)
    job = submit.stdout.strip().split(";")[0]
    assert job.isdigit(), submit

    def running():
        out = subprocess.run(["squeue", "--noheader", "--format=%i %T", "--jobs", job], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        return out == [job, "RUNNING"]
    wait_for(running, what="the job RUNNING in squeue")
    gate.touch()
    record = wait_for(lambda: (j := slurm_cluster.job(job)).get("JobState") not in
                  (None, "PENDING", "RUNNING", "COMPLETING") and j, what="the job finished")
    assert record["JobState"] == "FAILED" and record["ExitCode"] == "3:0", record
    # One squeue covers finished jobs too, while their records live (MinJobAge).
    out = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i %T %j",
                          "--jobs", job], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [job, "FAILED", "probe"]
    assert (work / "out").read_text() == "done\n"
    assert (work / "uid").read_text().strip() == str(os.getuid())
    assert (work / "py").read_text() == "1\n"
    assert (work / "pwd").read_text().strip() == str(work)
    assert (work / "lsremote").exists()
    # No slurmdbd here: sacct answers that accounting storage is disabled.
    sacct = subprocess.run(["sacct", "--noheader", "--jobs", job], env=env, capture_output=True,
                           text=True)
    print("sacct:", sacct.returncode, sacct.stderr.strip())
    assert f"JobId={job} " in (slurm_cluster.path / "jobcomp.txt").read_text()


def test_scancel_ends_the_job_and_its_process_tree(slurm_cluster, tmp_path):
    token = f"slurmprobe{uuid.uuid4().hex[:12]}"
    env = {**os.environ, **slurm_cluster.env()}
    # A child and a grandchild, each holding the token on its command line.
    # And a daemon that leaves the tree (setsid, its parent gone): scancel misses it by design,
    # the cluster's stop must not.
    daemon = f"{token}daemon"
    script = (f"sh -c 'sleep 300; : {token}' & sh -c \"sh -c 'sleep 300; : {token}' ; :\" &"
              f" (setsid sh -c 'sleep 300; : {daemon}' &) ; wait")
    job = subprocess.run(["sbatch", "--parsable", f"--output={tmp_path}/long.log", "--wrap", script],
                         cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    wait_for(lambda: len(host_processes(token)) >= 4, what="the job's processes")
    t0 = time.monotonic()
    subprocess.run(["scancel", job], env=env, check=True)
    wait_for(lambda: host_processes(token) == host_processes(daemon), timeout=15,
         what="the job's processes to end")
    gone = time.monotonic() - t0
    record = wait_for(lambda: (j := slurm_cluster.job(job)).get("JobState") not in
                  ("RUNNING", "COMPLETING") and j, what="the job record to settle")
    assert record["JobState"] == "CANCELLED", record
    print(f"scancel: processes gone in {gone:.2f}s")
    escaped = host_processes(daemon)
    print(f"after scancel, the setsid daemon {'lives on' if escaped else 'is gone too'}")
    assert not slurm_cluster.stop()
    assert not host_processes(token)


def test_twenty_submits_and_one_squeue(slurm_cluster, tmp_path):
    env = {**os.environ, **slurm_cluster.env()}
    times, jobs = [], []
    for n in range(20):
        t0 = time.monotonic()
        out = subprocess.run(["sbatch", "--parsable", f"--output={tmp_path}/j{n}.log",
                              f"--job-name=bulk{n}", "--wrap", "sleep 30"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, check=True).stdout
        times.append(time.monotonic() - t0)
        jobs.append(out.strip())
    t0 = time.monotonic()
    out = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i %T %j"], env=env,
                         capture_output=True, text=True, check=True).stdout
    squeue = time.monotonic() - t0
    seen = {line.split()[0] for line in out.splitlines()}
    assert set(jobs) <= seen
    times.sort()
    print(f"sbatch x20 (through nsenter): median {times[10] * 1000:.0f} ms, "
          f"max {times[-1] * 1000:.0f} ms; one squeue over {len(seen)} jobs {squeue * 1000:.0f} ms")
    t0 = time.monotonic()
    subprocess.run(["scancel", *jobs], env=env, check=True)
    print(f"scancel of 20 jobs: {(time.monotonic() - t0) * 1000:.0f} ms")
