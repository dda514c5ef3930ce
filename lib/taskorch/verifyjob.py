"""The user's `verify` command as a job of its own, off the heartbeat's lock.

A test suite can take many minutes. Run inside the tick, it held the project's lock the whole
time: no other agent was answered, nudged or launched meanwhile. Now the tick starts the command
in a detached process (its own session); the process writes its result beside the attempt's
other files, then starts a heartbeat; the tick that finds the result decides. The result names
the commit it verified, so a branch that moved meanwhile is verified again, never trusted.

The merge gate's `checks` run the same way (`kind="checks"`, mergegate.py), on the merge commit
they test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from taskorch.layout import Layout, write_atomic
from taskorch.verify import Result, passed, run_verify

RUNNING = "running"


def result_file(layout: Layout, task_id: str, attempt: int, kind: str = "verify") -> Path:
    return layout.run_dir(task_id) / f"attempt-{attempt}.{kind}.json"


def job_file(layout: Layout, task_id: str, attempt: int, kind: str = "verify") -> Path:
    return layout.run_dir(task_id) / f"attempt-{attempt}.{kind}-job.json"


def outcome(layout: Layout, task_id: str, attempt: int, sha: str | None,
            kind: str = "verify") -> Result | str | None:
    """The finished Result for `sha`, RUNNING while a job for it lives, or None: start one."""
    if not sha:
        return None
    done = _read(result_file(layout, task_id, attempt, kind))
    if done.get("sha") == sha:
        return Result(done["ok"], done["reason"], done.get("output", ""),
                      sha if done["ok"] else None)
    job = _read(job_file(layout, task_id, attempt, kind))
    if job.get("sha") == sha and _alive(job.get("pid")):
        return RUNNING
    return None


def start(layout: Layout, task_id: str, attempt: int, ready: Result, command: str,
          worktree: Path, timeout_minutes: float, hook: Path | None,
          kind: str = "verify") -> None:
    """Start running `command` on the prepared commit (verify.prepare) in the background."""
    spec = {"task": task_id, "attempt": attempt, "sha": ready.sha, "command": command,
            "worktree": str(worktree), "timeout_minutes": timeout_minutes,
            "reason": ready.reason, "note": ready.note,
            "result": str(result_file(layout, task_id, attempt, kind)),
            "hook": str(hook) if hook else None, "kind": kind}
    spec_path = layout.run_dir(task_id) / f"attempt-{attempt}.{kind}-spec.json"
    write_atomic(spec_path, json.dumps(spec))
    proc = subprocess.Popen([sys.executable, "-m", "taskorch.verifyjob", str(spec_path)],
                            cwd=worktree, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    write_atomic(job_file(layout, task_id, attempt, kind), json.dumps({"pid": proc.pid,
                                                                        "sha": ready.sha}))


def stop(layout: Layout, task_id: str, attempt: int, kind: str = "verify") -> None:
    """End a running verify job (the task was stopped or restarted); its command's group too."""
    job = _read(job_file(layout, task_id, attempt, kind))
    if _alive(job.get("pid")):
        try:
            os.killpg(job["pid"], 9)
        except (ProcessLookupError, PermissionError):
            pass


def main(argv: list[str] | None = None) -> int:
    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    failed = run_verify(spec["command"], Path(spec["worktree"]), spec["timeout_minutes"],
                        spec.get("kind", "verify"))
    ready = Result(True, spec["reason"], sha=spec["sha"], note=spec["note"])
    final = failed or passed(ready, spec["command"])
    result = {"sha": spec["sha"], "ok": final.ok, "reason": final.reason, "output": final.output}
    write_atomic(Path(spec["result"]), json.dumps(result))
    if spec.get("hook"):  # decide now, not at the next cron run
        subprocess.Popen([spec["hook"]], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid: object) -> bool:
    """A live verify job with this pid (not a process that took the number since)."""
    if not isinstance(pid, int):
        return False
    try:
        return b"taskorch.verifyjob" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
