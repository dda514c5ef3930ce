"""`doit launch` on real git and real tmux: who starts, what each gets, and nothing twice."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

from conftest import agent_profile, manifest, wait_for

TWELVE = manifest([
    [{"id": "a1", "issue": 1, "title": "Parse config", "files": ["src/a.py"]},
     {"id": "a2", "issue": 2, "title": "Validate config", "files": ["src/a.py"]},
     {"id": "a3", "title": "Add store", "files": ["src/b.py"]},
     {"id": "a4", "title": "Store cache", "files": ["src/c.py"], "dependsOn": ["a3"]},
     {"id": "a5", "issue": 5, "title": "Write docs", "files": ["docs/x.md"]}],
    [{"id": "b1", "title": "b one", "files": ["src/a.py"]},
     {"id": "b2", "title": "b two", "files": ["src/d.py"]},
     {"id": "b3", "title": "b three", "files": ["src/e.py"], "dependsOn": ["b2"]},
     {"id": "b4", "title": "b four", "files": ["src/f.py"]}],
    [{"id": "c1", "title": "c one", "files": ["src/a.py"]},
     {"id": "c2", "title": "c two", "files": ["src"]},
     {"id": "c3", "title": "c three", "files": ["README.md"]}],
], project="twelve", max_parallel=10, hook=False)
FIRST_WAVE = {"a1", "a3", "a5"}


def events(control, task_id: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(control.workdir / "state.db")
    rows = db.execute("SELECT new, reason FROM events WHERE task = ? ORDER BY seq", (task_id,))
    return rows.fetchall()


def launches(control, task_id: str) -> int:
    return sum(new == "running" for new, _ in events(control, task_id))


def test_launch_starts_exactly_the_open_first_phase_tasks(control, remote):
    control.write({**TWELVE, "repo": str(remote)})
    out = control.doit("launch").stdout
    status = control.status()
    running = {t for t, s in status.items() if s["status"] == "running"}
    assert running == FIRST_WAVE
    assert "a2 waits for a1: both touch src/a.py" in out
    assert "a4 waits for a3: dependsOn" in out
    assert "launch: started 3" in out
    sessions = control.sessions()
    assert set(sessions) == {control.project().session_name(t) for t in FIRST_WAVE}
    for task_id in FIRST_WAVE:
        row = status[task_id]
        worktree = control.workdir / "worktrees" / task_id
        assert row["worktree"] == str(worktree)
        assert row["session"] == control.project().session_name(task_id)
        assert row["attempts"] == 1 and row["startedAt"]
        head = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=worktree,
                              capture_output=True, text=True, check=True).stdout.strip()
        assert head == row["branch"]
        assert (control.workdir / "runs" / task_id / "attempt-1.prompt.md").is_file()
    assert status["a1"]["branch"] == "fix/issue-1-parse-config"
    assert status["a3"]["branch"] == "task/a3-add-store"
    # the demo agent commits; its log shows everything it printed from the first line
    for task_id in FIRST_WAVE:
        log = control.workdir / "logs" / f"{task_id}.log"
        wait_for(lambda: log.exists() and f"committed {task_id}" in log.read_text(),
                 what=f"{task_id}'s agent to commit")
        assert f"demo-agent: working on {task_id}" in log.read_text()


def test_second_launch_launches_nothing_and_status_tells_the_truth(control):
    control.write(TWELVE)
    control.doit("launch")
    before = control.sessions()
    out = control.doit("launch").stdout
    assert "launch: started 0" in out
    assert set(control.sessions()) == set(before)
    assert all(launches(control, t) == 1 for t in FIRST_WAVE)
    status = control.status()
    assert {t: s["status"] for t, s in status.items() if t not in FIRST_WAVE} == dict.fromkeys(
        set(status) - FIRST_WAVE, "blocked")
    assert "b1 waits for Phase 1: a1, a2, a3, a4, a5 not complete yet" in status["b1"]["reason"]
    table = control.doit("status").stdout
    assert "a2  " in table and "blocked" in table and "12 tasks: 9 blocked, 3 running" in table


def test_status_json_in_process_is_the_verbs(control):
    """Control.status() reads in process (conftest); it must be what `doit status --format
    json` prints, blocked, running and pending rows alike."""
    control.write(TWELVE)
    control.doit("launch")
    out = json.loads(control.doit("status", "--format", "json").stdout)
    assert {t["id"]: t for t in out["tasks"]} == control.status()
    assert {t["status"] for t in out["tasks"]} >= {"running", "blocked"}


def test_status_agent_lists_one_agents_tasks(control):
    """`doit status --agent NAME` (issue 13: the skill's "list a user's tasks")."""
    control.write(manifest([[{"id": "t1", "title": "mine", "files": ["a"]},
                             {"id": "t2", "title": "theirs", "files": ["b"], "agent": "other"}]],
                           agents={"other": agent_profile("hang.py")}))
    table = control.doit("status", "--agent", "other").stdout
    assert "t2" in table and "t1" not in table.replace("t1=", "")
    assert "1 blocked" in table or "1 pending" in table, table
    data = json.loads(control.doit("status", "--agent", "demo", "--format", "json").stdout)
    assert [t["id"] for t in data["tasks"]] == ["t1"]
    mixed = control.doit("status", "--agent", "demo", "--task", "t1", check=False)
    assert mixed.returncode != 0 and "does not combine with --watch or --task" in mixed.stderr
    wrong = control.doit("status", "--agent", "nobody", check=False)
    assert wrong.returncode != 0
    assert "no task of agent 'nobody' in orchestrator.yaml; its tasks' agents: demo, other" in \
        wrong.stdout + wrong.stderr


def test_launch_one_task_says_why_it_cannot(control):
    control.write(TWELVE)
    result = control.doit("launch:a2")
    assert result.returncode == 0
    assert "a2 waits for a1: both touch src/a.py" in result.stdout
    assert control.sessions() == {}
    control.doit("launch:a1")
    assert set(control.sessions()) == {control.project().session_name("a1")}
    again = control.doit("launch:a1").stdout
    assert "a1 is already running" in again
    assert launches(control, "a1") == 1


def test_max_parallel_caps_the_launch(control):
    tasks = [{"id": f"p{i}", "title": f"p {i}", "files": [f"f{i}.txt"]} for i in range(5)]
    control.write(manifest([tasks], max_parallel=2, hook=False))
    out = control.doit("launch").stdout
    running = [t for t, s in control.status().items() if s["status"] == "running"]
    assert running == ["p0", "p1"]
    assert "p2 is ready and waits for a free slot (2 of max_parallel 2 running)" in out


def test_concurrent_launches_start_each_task_once(control):
    tasks = [{"id": f"c{i}", "title": f"c {i}", "files": [f"f{i}.txt"]} for i in range(6)]
    control.write(manifest([tasks], max_parallel=6))
    procs = [subprocess.Popen([sys.executable, "-m", "doit", "launch"], cwd=control.path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert all(launches(control, f"c{i}") == 1 for i in range(6))
    assert len(control.sessions()) == 6
    started = sum(int(o.split("launch: started ")[1].split(";")[0]) for o, _ in outputs)
    assert started == 6


def test_a_live_session_is_adopted_not_started_twice(control):
    """A launch killed after tmux started the agent but before the state was written."""
    control.write(manifest([[{"id": "h1", "title": "hang", "files": ["x"]}]],
                           agent="hang", agents={"hang": agent_profile("hang.py")}))
    control.doit("launch")
    pid = control.sessions()[control.project().session_name("h1")].pid
    db = sqlite3.connect(control.workdir / "state.db")
    with db:
        db.execute("UPDATE tasks SET status = 'pending', attempts = 0 WHERE id = 'h1'")
    out = control.doit("launch").stdout
    assert "adopted its live session" in out
    assert control.sessions()[control.project().session_name("h1")].pid == pid
    assert control.status()["h1"]["status"] == "running"


def test_local_path_repo_clones_and_branches_from_its_base(control, remote):
    control.write(manifest([[{"id": "l1", "issue": 9, "title": "Local", "files": ["a.txt"]}]],
                           repo=str(remote)))
    control.doit("launch")
    clone = control.workdir / "repo"
    origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert origin == str(remote)
    worktree = control.workdir / "worktrees" / "l1"
    wait_for(lambda: (worktree / "a.txt").exists(), what="the agent to write a.txt")
    base = subprocess.run(["git", "merge-base", "HEAD", "origin/main"], cwd=worktree,
                          capture_output=True, text=True, check=True).stdout.strip()
    main = subprocess.run(["git", "rev-parse", "origin/main"], cwd=worktree, capture_output=True,
                          text=True, check=True).stdout.strip()
    assert base == main


def test_missing_base_branch_is_a_clear_error_and_changes_no_state(control, remote):
    control.write(manifest([[{"id": "m1", "title": "x", "files": ["a"]}]], repo=str(remote),
                           base="trunk"))
    result = control.doit("launch", check=False)
    assert result.returncode != 0
    assert "taskorch: launch:m1: base branch 'trunk' is not on origin" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert control.status()["m1"]["status"] == "pending"
    assert control.sessions() == {}


def test_doit_list_shows_each_verb_with_a_doc(control):
    control.write(TWELVE)
    listing = control.doit("list").stdout
    for verb in ("launch", "plan", "status"):
        line = next(l for l in listing.splitlines() if l.startswith(verb + " "))
        assert len(line.split(None, 1)[1]) > 10
    assert "_done" not in listing


def test_doit_writes_no_dependency_file(control):
    # taskorch keeps its state in state.db; doit's own file is in memory (a full disk made its
    # write at the end of every run a traceback)
    control.write(TWELVE)
    for verb in ("plan", "launch", "status", "heartbeat"):
        control.doit(verb)
    assert not (control.workdir / "doit.db").exists()
    assert not list(control.path.glob(".doit.db*"))


def test_status_json_has_the_documented_fields(control):
    control.write(TWELVE)
    tasks = json.loads(control.doit("status", "--format", "json").stdout)["tasks"]
    assert [t["id"] for t in tasks][:3] == ["a1", "a2", "a3"]
    assert set(tasks[0]) >= {"id", "phase", "status", "attempts", "branch", "worktree", "session",
                             "prNumber", "startedAt", "completedAt", "lastProgress"}
