"""The built-in `demo` agent: a scripted stand-in for an LLM, for the example and for tests.

It reads the machine-readable line that prompts/task.md.j2 ends with
(`<!-- taskorch-task: {...json...} -->`), appends a line to each listed file (creating it), and
commits. Globs and directories get a note file inside them instead. Nothing it reads is executed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

MARKER = "<!-- taskorch-task: "
IDENTITY = ["-c", "user.name=taskorch demo agent", "-c", "user.email=demo-agent@taskorch.invalid"]


def task_spec(prompt: str) -> dict:
    lines = [line for line in prompt.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise ValueError("the prompt has no '<!-- taskorch-task: ... -->' line; "
                         "keep it at the end of prompts/task.md.j2")
    return json.loads(lines[-1][len(MARKER):].rsplit(" -->", 1)[0])


def target(entry: str, task_id: str) -> Path:
    """The file to edit for one `files` entry."""
    if not entry or any(c in entry for c in "*?[") or Path(entry).is_dir():
        folder = entry.split("*")[0].split("?")[0].split("[")[0].rsplit("/", 1)[0] if "/" in entry else ""
        return Path(folder or ".") / f"DEMO-{task_id}.md"
    return Path(entry)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        spec = task_spec(Path(args[0]).read_text(encoding="utf-8"))
    except (IndexError, OSError, ValueError) as exc:
        print(f"demo-agent: error: {exc}", file=sys.stderr)
        return 2
    task_id = spec["id"]
    print(f"demo-agent: working on {task_id}: {spec['title']}", flush=True)
    time.sleep(float(os.environ.get("TASKORCH_DEMO_DELAY", "0")))
    for entry in spec["files"] or [""]:
        path = target(entry, task_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{task_id}: {spec['title']}\n")
        print(f"demo-agent: edited {path}", flush=True)
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", *IDENTITY, "commit", "--quiet", "-m", f"{task_id}: {spec['title']}"],
                   check=True)
    print(f"demo-agent: committed {task_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
