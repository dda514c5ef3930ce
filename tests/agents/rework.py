"""Scripted agent for the merge gate (test_merge_gate.py).

usage: rework.py broken|plain

Its first round writes `<id>: BROKEN` (broken) or `<id>: work` (plain) into each listed file and
commits. A rework round (prompts/rework.md.j2) must carry what the gate saw:
- failed checks: the checks' own output line (CHECK-7 ...); it then writes `<id>: fixed`;
- a conflict: the conflicting files; it then merges the base in and keeps both sides' lines.
- a review asking for changes: the review's words (REVIEW-9 ...); it then writes `<id>: fixed`.
A rework prompt without them exits 2, so a test fails unless the prompt said what went wrong.
"""

import os
import subprocess
import sys
from pathlib import Path

from taskorch import demo_agent

GIT = ["git", *demo_agent.IDENTITY]
prompt = Path(os.environ["TASKORCH_PROMPT_FILE"]).read_text()
spec = demo_agent.task_spec(prompt)
files = spec["files"]


def commit(message: str) -> None:
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run([*GIT, "commit", "--quiet", "-m", message], check=True)


def fix(marker: str, what: str, message: str) -> None:
    """Write `<id>: fixed` into each file, only if the prompt carries `marker`."""
    if marker not in prompt:
        print(f"rework-agent: the prompt did not carry {what}", flush=True)
        sys.exit(2)
    for name in files:
        Path(name).write_text(f"{spec['id']}: fixed\n")
    commit(f"{spec['id']}: {message}")


if "rework round" not in prompt:
    word = "BROKEN" if sys.argv[1] == "broken" else "work"
    for name in files:
        with open(name, "a") as f:
            f.write(f"{spec['id']}: {word}\n")
    commit(f"{spec['id']}: first round")
elif "conflicts" in prompt:
    if not all(f"- {name}" in prompt for name in files):
        print("rework-agent: the prompt did not name the conflicting files", flush=True)
        sys.exit(2)
    base = "origin/main"
    merged = subprocess.run([*GIT, "merge", "--quiet", "--no-edit", base])
    if merged.returncode != 0:
        for name in files:
            theirs = subprocess.run(["git", "show", f"{base}:{name}"], capture_output=True,
                                    text=True).stdout
            ours = subprocess.run(["git", "show", f"HEAD:{name}"], capture_output=True,
                                  text=True).stdout
            Path(name).write_text(theirs + ours)
        commit(f"{spec['id']}: merge {base}, both sides kept")
elif "A reviewer asked for changes" in prompt:
    fix("REVIEW-9", "the review's comments", "as the review asked")
else:
    fix("CHECK-7", "the checks' output", "fixed what the checks found")
print("rework-agent: done", flush=True)
