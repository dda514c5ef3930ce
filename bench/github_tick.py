"""How long a tick takes with many open pull requests on the github forge (issue 12), through the
recording `gh` of the tests (tests/bin/gh) on PATH: `--prs` tasks seeded `pr_open`, each with its
pull request, all with checks still running, so each tick reads every one's checks and review
and merges none. Reports the heartbeat's wall time (median of `--repeat`), and the gh calls one
tick made: one `gh pr list` for all of them is the goal.

    python bench/github_tick.py [--prs 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from heartbeat import doit, task, top
from plan_launch import ROOT, control_dir, machine

from taskorch import git, repo
from taskorch.project import Project

PENDING = [{"__typename": "CheckRun", "name": "test", "status": "IN_PROGRESS",
            "conclusion": None, "detailsUrl": ""}]


def seed(cwd: Path, n: int, state: Path) -> None:
    """Rows in pr_open with a pushed branch and a pull request each; the recording gh's state
    holds the pull requests."""
    project = Project.load(cwd / "orchestrator.yaml", store=True)
    git.ensure_clone(repo.remote_url(project.manifest.repo, project.manifest.root,
                                     project.layout.root), project.layout.clone)
    project.store.update({f"t{i}": {"branch": f"task/t{i}", "delivery": f"#{i + 1}",
                                    "pr_number": i + 1, "pr_base": "main"} for i in range(n)})
    project.store.close()
    state.write_text(json.dumps({"checks": PENDING, "prs": [
        {"number": i + 1, "url": f"https://github.com/acme/service/pull/{i + 1}",
         "state": "OPEN", "title": f"t{i}", "head": f"task/t{i}", "baseRefName": "main",
         "body": "", "mergedAt": None} for i in range(n)]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}")
    with tempfile.TemporaryDirectory(prefix="taskorch-gh-", ignore_cleanup_errors=True) as tmp:
        (Path(tmp) / "c").mkdir()
        data = top(f"gh-{args.prs}", {"demo": []}, 4, False,
                   [[task(f"t{i}", status="pr_open") for i in range(args.prs)]])
        data.update({"agent": "demo", "agents": {}, "forge": "github", "merge": "auto"})
        cwd = control_dir(Path(tmp) / "c", data)
        state, log = Path(tmp) / "gh-state.json", Path(tmp) / "gh-log.jsonl"
        os.environ.update(PATH=f"{ROOT / 'tests' / 'bin'}{os.pathsep}{os.environ['PATH']}",
                          FAKE_GH_STATE=str(state), FAKE_GH_LOG=str(log))
        doit(cwd, "plan")
        seed(cwd, args.prs, state)
        doit(cwd, "heartbeat")
        walls, calls = [], []
        for _ in range(args.repeat):
            log.unlink(missing_ok=True)
            walls.append(doit(cwd, "heartbeat")[0])
            calls.append([json.loads(line)["argv"][:2] for line in log.read_text().splitlines()])
        statuses = Project.load(cwd / "orchestrator.yaml", store=True).store.statuses()
    held = sum(s == "pr_open" for s in statuses.values())
    print(f"{args.prs} open pull requests, checks running: one heartbeat {statistics.median(walls):.2f} s "
          f"(median of {args.repeat}; min {min(walls):.2f}, max {max(walls):.2f}); gh calls a "
          f"tick: {statistics.median(len(c) for c in calls):g} ({sorted({' '.join(a) for c in calls for a in c})}); "
          f"{held} of {args.prs} still open")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
