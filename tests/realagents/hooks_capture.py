"""Capture the hook payloads the real interactive CLIs send (issue 9 groundwork).

Runs Claude Code and codex in tmux (private socket `-L hookcap`) against the scripted model, with
every hook pointed at a small recorder that appends its stdin (or, for codex `notify`, its last
argument) and the time to a JSONL file. Prints, per scenario, each event with its time in seconds
after launch; with --fixtures, writes one JSON file per payload to
tests/fixtures/agents/<cli>-<version>/hooks/<scenario>-<event>[-n].json.

    python tests/realagents/hooks_capture.py [--only claude,codex] [--scenarios ok,ask] [--fixtures]

Claude: hooks come from a `--settings FILE` (events below) plus one user hook per Stop and
UserPromptSubmit in the private HOME's ~/.claude/settings.json (recorded as `user:<event>`).
codex: `-c notify=[...]` (recorded as `notify`) over a `notify` in CODEX_HOME/config.toml
(recorded as `user:notify`), and Claude-style hooks in CODEX_HOME/hooks.json, run with
`--dangerously-bypass-hook-trust`.
Not a pytest test: it takes about 8 minutes (three scenarios wait 70 s for idle notifications).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from model_server import ModelServer  # noqa: E402
from smoke import BIN, FIXTURES, OK, PROMPT, Tmux, fresh_repo, has_commit, setup  # noqa: E402

FIXTURE_DIR = {"codex": "codex-0.171.0", "claude": "claude-code-2.1.332"}
CLAUDE_EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest",
                 "PostToolUse", "Notification", "Stop", "StopFailure", "SessionEnd"]
CODEX_EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest",
                "PostToolUse", "Stop", "SessionEnd"]
MATCHED = {"PreToolUse", "PostToolUse", "PermissionRequest"}
SCREEN = {"claude": {"done": r"^✻ \w+ for \d", "dialog": r"Enter to select",
                     "error": r"API Error"},
          "codex": {"done": r"Worked for", "error": r"stream error|exceeded retry|rate limit|■ ",
                    "question": r"Formal or informal\?",
                    "hooks_review": r"Hooks need review"}}

RECORDER = '''import json, sys, time
log, event = sys.argv[1], sys.argv[2]
if event.endswith("notify"):  # codex passes the JSON as its last argument, and no stdin
    raw = sys.argv[-1] if len(sys.argv) > 3 else ""
else:
    raw = sys.stdin.read()
try:
    payload = json.loads(raw)
except ValueError:
    payload = raw
with open(log, "a") as f:
    f.write(json.dumps({"t": time.time(), "event": event, "payload": payload}) + "\\n")
if len(sys.argv) > 3 and sys.argv[3].startswith("--noisy="):  # stdout, and this exit code
    print("HOOK-STDOUT-" + event)
    sys.exit(int(sys.argv[3].split("=")[1]))
'''


class Session:
    """One CLI in a tmux window: polls its hook log and its screen, timing both from launch."""

    def __init__(self, cap: Capture, cli: str, scenario: str, scripts: dict[str, Any], *,
                 env: dict[str, str] | None = None, noisy: int | None = None,
                 trust_hooks: bool = True) -> None:
        self.cap, self.cli, self.scenario = cap, cli, scenario
        base = cap.root / f"{cli}-{scenario}"
        self.repo = fresh_repo(base / "repo")
        self.log = base / "hooks.jsonl"
        self.log.touch()
        self.server = ModelServer(scripts, base / "requests.jsonl").start()
        self.env = {**setup(cli, base / "home", self.repo, self.server.url), **(env or {})}
        rec = ["python3", str(cap.recorder), str(self.log)]
        if cli == "claude":
            argv = [str(BIN[cli]), "--dangerously-skip-permissions",
                    "--settings", str(self.claude_settings(base, rec, noisy))]
        else:
            argv = [str(BIN[cli]), "--no-daemon", "--dangerously-bypass-approvals-and-sandbox",
                    *(["--dangerously-bypass-hook-trust"] if trust_hooks else []),
                    "-c", "notify=" + json.dumps([*rec, "notify"])]
            self.codex_config(rec)
        self.tmux = Tmux("hookcap")
        self.name = f"{cli}-{scenario}"
        self.seen: dict[str, float] = {}  # screen pattern name -> first seen, s after launch
        self.screen = ""
        self.start = time.time()
        cmd = ["env", *(f"{k}={v}" for k, v in self.env.items()), *argv, PROMPT]
        self.tmux("new-session", "-d", "-s", self.name, "-x", "160", "-y", "45",
                  "-c", str(self.repo), *cmd)

    def claude_settings(self, base: Path, rec: list[str], noisy: int | None) -> Path:
        def hook(event: str) -> dict[str, Any]:
            command = shlex.join([*rec, event, *([f"--noisy={noisy}"] if noisy is not None else [])])
            group: dict[str, Any] = {"hooks": [{"type": "command", "command": command}]}
            return {"matcher": "*", **group} if event in MATCHED else group
        user = base / "home/.claude/settings.json"
        settings = json.loads(user.read_text())
        settings["hooks"] = {e: [{"hooks": [{"type": "command", "command": shlex.join(
            [*rec, f"user:{e}"])}]}] for e in ("Stop", "UserPromptSubmit")}
        user.write_text(json.dumps(settings, indent=2))
        path = base / "settings.json"
        path.write_text(json.dumps({"hooks": {e: [hook(e)] for e in CLAUDE_EVENTS}}, indent=2))
        return path

    def codex_config(self, rec: list[str]) -> None:
        home = Path(self.env["CODEX_HOME"])
        config = home / "config.toml"
        config.write_text(f"notify = {json.dumps([*rec, 'user:notify'])}\n" + config.read_text())
        hooks = {e: [{"hooks": [{"type": "command", "command": shlex.join([*rec, e])}]}]
                 for e in CODEX_EVENTS}
        (home / "hooks.json").write_text(json.dumps({"hooks": hooks}, indent=2))

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                entry["at"] = round(entry["t"] - self.start, 1)
                out.append(entry)
        return out

    def poll(self) -> None:
        self.screen = self.tmux("capture-pane", "-p", "-t", self.name)
        now = round(time.time() - self.start, 1)
        for name, pattern in SCREEN[self.cli].items():
            if name not in self.seen and re.search(pattern, self.screen, re.M):
                self.seen[name] = now

    def wait(self, seconds: float, until: str | None = None, count: int = 1) -> bool:
        """Poll for `seconds`, or until `count` `until` events are in the log."""
        end = time.time() + seconds
        while time.time() < end:
            self.poll()
            if until and sum(e["event"] == until for e in self.events()) >= count:
                return True
            time.sleep(0.25)
        return False

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def finish(self, note: str = "") -> None:
        self.poll()
        self.cap.screen(self.cli, self.scenario, self.screen)
        before = len(self.events())
        self.tmux("kill-session", "-t", self.name)
        time.sleep(3)  # a SessionEnd hook, if any, runs on the hang-up
        self.server.stop()
        events = self.events()
        print(f"== {self.cli} {self.scenario}  {note}", flush=True)
        for i, e in enumerate(events):
            p = e["payload"] if isinstance(e["payload"], dict) else {}
            detail = {k: p[k] for k in ("tool_name", "notification_type", "message", "error",
                                        "error_details", "type", "source", "reason") if k in p}
            last = p.get("last_assistant_message", p.get("last-assistant-message"))
            if last is not None:
                detail["last"] = str(last)[:40]
            tail = " (after kill-session)" if i >= before else ""
            print(f"   {e['at']:6.1f}s  {e['event']:18} {json.dumps(detail)[:150]}{tail}")
        lines = [line.rstrip()[:110] for line in self.screen.splitlines() if line.strip()]
        print("   | " + "\n   | ".join(lines[-14:]))
        print(f"   screen: {self.seen}; requests: {len(self.server.requests())}; "
              f"commit: {has_commit(self.repo, 'Add hello.txt')}")
        self.cap.save(self.cli, self.scenario, events)
        self.cap.timeline[f"{self.cli} {self.scenario}"] = {
            "events": [(e["at"], e["event"]) for e in events], "screen": self.seen}


class Capture:
    def __init__(self, root: Path, save: bool) -> None:
        self.root, self.save_fixtures = root, save
        self.recorder = root / "rec.py"
        self.recorder.write_text(RECORDER)
        self.timeline: dict[str, Any] = {}

    def scrub(self, text: str) -> str:
        root = str(self.root)
        dashed = re.sub(r"[^A-Za-z0-9]", "-", root)  # Claude's projects/<cwd> folder name
        text = text.replace(root, "/tmp/hookcap").replace(dashed, "-tmp-hookcap")
        return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)

    def save(self, cli: str, scenario: str, events: list[dict[str, Any]]) -> None:
        if not self.save_fixtures:
            return
        folder = FIXTURES / FIXTURE_DIR[cli] / "hooks"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"{scenario}-*.json"):
            old.unlink()
        counts: dict[str, int] = {}
        for e in events:
            event = e["event"].replace(":", "-")
            counts[event] = counts.get(event, 0) + 1
            suffix = "" if counts[event] == 1 else f"-{counts[event]}"
            text = json.dumps(e["payload"], indent=2, ensure_ascii=False) + "\n"
            (folder / f"{scenario}-{event}{suffix}.json").write_text(self.scrub(text))

    def screen(self, cli: str, scenario: str, text: str) -> None:
        if self.save_fixtures:
            text = "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"
            path = FIXTURES / FIXTURE_DIR[cli] / "hooks" / f"{scenario}-screen.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.scrub(text))


# -- scenarios -----------------------------------------------------------------------------------

ASK = [{"ask": "Formal or informal?", "options": ["Formal", "Informal"]},
       {"say": "Going with that choice."}]
FAIL_500 = [{"error": 500, "times": None}]
FAIL_429 = [{"error": 429, "times": None}]


def claude(cap: Capture, only: set[str]) -> None:
    retries = {"CLAUDE_CODE_MAX_RETRIES": "1"}
    if "ok" in only:
        s = Session(cap, "claude", "ok", {"default": OK})
        s.wait(60, until="Stop")
        s.wait(8)
        s.finish("write, commit, say done; 8 s after Stop")
    if "idle" in only:
        s = Session(cap, "claude", "idle", {"default": OK})
        s.wait(60, until="Stop")
        s.wait(75, until="Notification")
        s.wait(3)
        s.finish("ok turn, then up to 75 s idle")
    if "500" in only:
        s = Session(cap, "claude", "500", {"default": FAIL_500}, env=retries)
        s.wait(60, until="StopFailure")
        s.wait(75, until="Notification")
        s.wait(3)
        s.finish("500 for ever, CLAUDE_CODE_MAX_RETRIES=1; then up to 75 s idle")
    for status in (429, 529, 401):  # StopFailure's `error` for other statuses
        if str(status) in only:
            s = Session(cap, "claude", str(status), {"default": [{"error": status, "times": None}]},
                        env=retries)
            s.wait(60, until="StopFailure")
            s.wait(3)
            s.finish(f"{status} for ever, CLAUDE_CODE_MAX_RETRIES=1")
    if "ask" in only:
        s = Session(cap, "claude", "ask", {"default": ASK})
        s.wait(72)  # the dialog stays open: which notifications come, and when
        s.keys("Enter")  # picks "Formal"
        s.wait(30, until="Stop")
        s.wait(3)
        s.finish("AskUserQuestion, open 72 s, then Enter")
    for code in (0, 1):
        if f"noisy{code}" not in only:
            continue
        s = Session(cap, "claude", f"noisy{code}", {"default": OK}, noisy=code)
        s.wait(60, until="Stop")
        s.wait(5)
        bodies = json.dumps([r.get("body") for r in s.server.requests()])
        s.finish(f"every --settings hook prints HOOK-STDOUT-<event> and exits {code}; the model saw "
                 f"{sorted(set(re.findall(r'HOOK-STDOUT-[A-Za-z]+', bodies)))}")


def codex(cap: Capture, only: set[str]) -> None:
    if "ok" in only:
        s = Session(cap, "codex", "ok", {"default": OK})
        s.wait(60, until="notify")
        s.wait(8)
        s.finish("write, commit, say done; 8 s after notify")
    if "idle" in only:
        s = Session(cap, "codex", "idle", {"default": OK})
        s.wait(60, until="notify")
        s.wait(70)
        s.finish("ok turn, then 70 s idle")
    if "429" in only:
        s = Session(cap, "codex", "429", {"default": FAIL_429})
        s.wait(30, until="notify")
        s.wait(10)
        s.finish("429 for ever")
    if "untrusted" in only:
        s = Session(cap, "codex", "untrusted", {"default": OK}, trust_hooks=False)
        s.wait(30, until="notify", count=2)
        s.wait(5)
        s.finish("ok turn without --dangerously-bypass-hook-trust")
    if "ask" in only:
        s = Session(cap, "codex", "ask", {"default": ASK[:1]})
        s.wait(30, until="notify")
        s.wait(5)
        s.finish("prose question")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="claude,codex")
    ap.add_argument("--scenarios", default="ok,idle,500,429,529,401,ask,noisy0,noisy1,untrusted")
    ap.add_argument("--fixtures", action="store_true", help="write the payloads as fixtures")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    missing = [str(BIN[c]) for c in args.only.split(",") if not BIN[c].exists()]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}; run tests/realagents/install.sh")
    root = Path(tempfile.mkdtemp(prefix="hookcap-", dir="/tmp"))
    cap = Capture(root, args.fixtures)
    only = set(args.scenarios.split(","))
    try:
        for cli in args.only.split(","):
            {"claude": claude, "codex": codex}[cli](cap, only)
    finally:
        Tmux("hookcap")("kill-server")
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(cap.timeline))


if __name__ == "__main__":
    main()
