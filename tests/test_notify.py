"""Notifications (issue 12): `notify:` sinks hear each change once, from the journal, and a sink
that hangs or fails never holds a tick. A real HTTP server on 127.0.0.1 and real commands."""

from __future__ import annotations

import fcntl
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import agent_profile, manifest, wait_for
from taskorch.notify.journal import kind_of

FAST = {"retry_backoff_seconds": 0, "hook": False}
APPEND = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read())"


class Hooks(ThreadingHTTPServer):
    """A webhook receiver: `mode` is ok (200), fail (500) or hang (never answers until the
    test ends)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = "ok"
        self.received: list[dict] = []   # every POST body, including retried and failed ones
        self.hanging = 0                 # handlers blocked right now
        self.release = threading.Event()
        self.guard = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/secret-token"

    def events(self, kind: str | None = None) -> list[dict]:
        with self.guard:
            return [e for e in self.received if kind is None or e["event"] == kind]


class Handler(BaseHTTPRequestHandler):
    server: Hooks

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.guard:
            self.server.received.append(body)
        if self.server.mode == "hang":
            with self.server.guard:
                self.server.hanging += 1
            self.server.release.wait(120)
            with self.server.guard:
                self.server.hanging -= 1
            return
        self.send_response(500 if self.server.mode == "fail" else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hooks():  # type: ignore[no-untyped-def]
    server = Hooks()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def settled(control) -> bool:  # type: ignore[no-untyped-def]
    """Nothing queued and no worker running."""
    where = control.workdir / "notify"
    if any((where / "queue").glob("*.json")):
        return False
    with open(where / "worker.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
    return True


def beat(control, times: int = 1) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        control.doit("heartbeat")


def health(control) -> str:  # type: ignore[no-untyped-def]
    return next(line for line in control.doit("status").stdout.splitlines()
                if line.startswith("health:"))


def pair(control, notify: list, **extra) -> None:  # type: ignore[no-untyped-def]
    control.write(manifest([[{"id": "m", "title": "m", "files": ["m.txt"]},
                             {"id": "n", "title": "n", "files": ["n.txt"]}]],
                           merge="auto", notify=notify, **{**FAST, **extra}))
    control.doit("launch")


def test_a_webhook_hears_pr_opened_merged_and_done_once_each_in_order(control, hooks):
    pair(control, [{"webhook": hooks.url}])
    wait_for(lambda: control.doit("heartbeat") and all(
        s["status"] == "merged" for s in control.peek().values()), what="both merged", interval=0.3)
    wait_for(lambda: hooks.events("done"), what="done to arrive")
    beat(control, 3)  # later ticks find nothing new
    wait_for(lambda: settled(control), what="the queue to empty")
    got = [(e["event"], e.get("task")) for e in hooks.events()]
    assert sorted(got, key=str) == sorted([("pr_opened", "m"), ("pr_opened", "n"),
                                           ("merged", "m"), ("merged", "n"), ("done", None)],
                                          key=str), got
    assert got[-1] == ("done", None)  # journal order: done after the last merge
    for task in ("m", "n"):
        assert got.index(("pr_opened", task)) < got.index(("merged", task))
    for event in hooks.events():
        assert {"event", "project", "state", "reason", "time", "text"} <= set(event)
        assert event["project"] == "test" and event["time"].endswith("Z")
    done = hooks.events("done")[0]
    assert "task" not in done and done["reason"] == "2 merged"
    merged = hooks.events("merged")[0]
    assert merged["state"] == "merged" and merged["text"].startswith(f"[test] {merged['task']} ")
    assert "notify" not in health(control)


def test_a_command_hears_json_lines_and_needs_you_once_when_attempts_run_out(control, tmp_path):
    out, args = tmp_path / "events.jsonl", tmp_path / "argv.txt"
    notify = [{"command": [sys.executable, "-c", APPEND, str(out)]},
              {"command": [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write("
                           "' '.join(sys.argv[2:]) + chr(10))", str(args), "{event}", "{task}"]},
              {"command": ["no-such-notify-send-here", "{text}"], "optional": True}]
    control.write(manifest([[{"id": "a", "title": "a", "files": ["a.txt"]}]], agent="failing",
                           agents={"failing": agent_profile("fail.py", "3")}, max_attempts=2,
                           notify=notify, **FAST))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and "gave up" in control.peek()["a"]["reason"],
             what="a to give up", interval=0.3)
    beat(control, 3)
    wait_for(lambda: settled(control), what="the queue to empty")
    lines = out.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # one JSON object per line
    assert [(e["event"], e["task"], e["state"]) for e in events] == [("needs_you", "a", "error")]
    assert "gave up after 2 attempts" in events[0]["reason"]  # not the first, retried failure
    assert args.read_text() == "needs_you a\n"
    assert "notify" not in health(control)  # the missing optional program is no failure


def test_a_hanging_webhook_never_holds_the_tick_and_is_reported(control, hooks, tmp_path):
    hooks.mode = "hang"
    out = tmp_path / "events.jsonl"
    pair(control, [{"webhook": hooks.url, "timeout": 1, "retries": 1},
                   {"command": [sys.executable, "-c", APPEND, str(out)]}])
    wait_for(lambda: control.doit("heartbeat") and hooks.hanging, what="the webhook to hang", interval=0.3)
    control.doit("heartbeat")  # a whole tick, while the webhook still holds its request
    assert hooks.hanging and not hooks.release.is_set()
    wait_for(lambda: control.doit("heartbeat") and all(
        s["status"] == "merged" for s in control.peek().values()), what="both merged", interval=0.3)
    # the command sink is not held up behind the hanging webhook
    wait_for(lambda: out.exists() and '"done"' in out.read_text(), what="the command to hear done")
    # the first event was tried twice (retries: 1), then given up, and status says so
    wait_for(lambda: "given up" in health(control), what="status to report the webhook")
    first = hooks.events()[0]["seq"]
    assert [e["seq"] for e in hooks.events()].count(first) == 2
    line = health(control)
    port = hooks.server_address[1]
    assert f"notify failing: webhook http://127.0.0.1:{port}/… (no answer in 1 s;" in line, line
    assert "secret-token" not in line
    hooks.release.set()


def test_a_failing_webhook_is_retried_reported_and_cleared_once_it_answers(control, hooks):
    hooks.mode = "fail"
    control.write(manifest([[{"id": "m", "title": "m", "files": ["m.txt"]},
                             {"id": "h", "title": "h", "files": ["h.txt"], "agent": "hang"}]],
                           agents={"hang": agent_profile("hang.py")}, merge="auto",
                           notify=[{"webhook": hooks.url, "timeout": 5, "retries": 2}], **FAST))
    control.doit("launch")
    wait_for(lambda: control.doit("heartbeat") and control.peek()["m"]["status"] == "merged",
             what="m merged", interval=0.3)
    wait_for(lambda: "given up" in health(control), what="status to report the webhook")
    assert "(HTTP 500 Internal Server Error; " in health(control)
    first = hooks.events()[0]
    assert (first["event"], first["task"]) == ("pr_opened", "m")
    assert [e["seq"] for e in hooks.events()].count(first["seq"]) == 3  # 1 + 2 retries
    wait_for(lambda: settled(control), what="the queue to empty")
    hooks.mode = "ok"
    control.doit("skip", "h")  # the last task: done
    beat(control, 2)
    wait_for(lambda: settled(control) and hooks.events("done"), what="done to arrive")
    assert len(hooks.events("done")) == 1
    assert "notify" not in health(control)


@pytest.mark.parametrize("old,new,reason,kind", [
    ("running", "stuck", "waiting: Delete everything? (y/n)", "needs_you"),
    ("running", "error", "exited 3; retry 2 of 3 at 10:00:00 UTC", None),
    ("running", "error", "exited 3; gave up after 3 attempts (`doit retry a` starts it again)",
     "needs_you"),
    ("stuck", "error", "retry asked by hand; attempt budget reset (reason before: x)", None),
    ("pending", "stuck", "budget spent: $5.00 of $5.00", "needs_you"),
    ("complete", "pr_open", "delivered: origin/task/a", "pr_opened"),
    ("pr_open", "merged", "merged into main", "merged"),
    ("running", "running", "nudged after 20 min without progress", None),
    (None, "pending", "seeded from the manifest", None),
    ("running", "complete", "verified", None),
])
def test_journal_events_map_to_kinds(old, new, reason, kind):
    assert kind_of(old, new, reason) == kind


@pytest.mark.parametrize("old,new,event,kind", [
    # the merge gate (mergegate.react): red checks are ci_failed whatever the reaction
    ("pr_open", "error", "checks_failed", "ci_failed"),
    ("pr_open", "pr_open", "checks_failed", "ci_failed"),
    # a conflict its agent is merging in needs nobody; one left for a person does
    ("pr_open", "error", "conflicted", None),
    ("pr_open", "pr_open", "conflicted", "needs_you"),
    ("pr_open", "stuck", "rounds_spent", "needs_you"),
])
def test_merge_gate_events_map_by_their_lifecycle_event(old, new, event, kind):
    reason = "checks `make test` exited 1 on 1234abcd merged into main; back to its agent: " \
             "rework round 1 of 3"
    assert kind_of(old, new, reason, event) == kind


def test_notify_entries_are_checked(tmp_path: Path):
    from taskorch.manifest import ManifestError, load
    bad = {"notify: [{webhook: 'ftp://x'}]": "entry 0: webhook must be an http:// or https:// URL",
           "notify: [{command: notify-send}]": "entry 0: command must be a list of strings",
           "notify: [{webhook: 'http://x', optional: true}]": "entry 0 has unknown key 'optional'",
           "notify: [{command: [x], webhook: 'http://x'}]": "entry 0 must be a mapping with one of",
           "notify: [{command: [x], timeout: 0}]": "entry 0: timeout must be a number of seconds",
           "notify: {webhook: 'http://x'}": "must be a list of sinks"}
    for line, words in bad.items():
        path = tmp_path / "orchestrator.yaml"
        path.write_text(f"repo: demo\n{line}\nphases:\n  - tasks:\n      - id: t1\n")
        with pytest.raises(ManifestError) as caught:
            load(path)
        assert any(f"orchestrator.yaml:2: notify: {words}" in e for e in caught.value.errors), \
            caught.value.errors
