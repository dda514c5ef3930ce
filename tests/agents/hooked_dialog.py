"""Scripted interactive agent with Claude Code's hooks: started with `--settings FILE` (the
claude-code wiring's {hook_args}), it runs the settings' PreToolUse hook with an AskUserQuestion
payload, as Claude does, and only DELAY seconds later draws the dialog. Anything typed before the
dialog shows is recorded as `early:` in RECORD_FILE; Enter on the dialog writes answered.txt,
commits it and runs the Stop hook.

usage: hooked_dialog.py RECORD_FILE DELAY --settings FILE
"""

import json
import os
import select
import subprocess
import sys
import termios
import time

record = open(sys.argv[1], "ab", buffering=0)
delay = float(sys.argv[2])
settings = json.load(open(sys.argv[sys.argv.index("--settings") + 1]))
attrs = termios.tcgetattr(0)
attrs[3] &= ~(termios.ICANON | termios.ECHO)
termios.tcsetattr(0, termios.TCSANOW, attrs)


def hook(event: str, payload: dict) -> None:
    command = settings["hooks"][event][0]["hooks"][0]["command"]
    subprocess.run(command, shell=True, input=json.dumps({"hook_event_name": event, **payload}),
                   text=True, timeout=30)


question = {"questions": [{"question": "Formal or informal?", "header": "Tone",
                           "options": [{"label": "Formal"}, {"label": "Informal"}]}]}
hook("PreToolUse", {"tool_name": "AskUserQuestion", "tool_input": question})
drawn_at = time.monotonic() + delay
while (left := drawn_at - time.monotonic()) > 0:
    if select.select([0], [], [], left)[0]:
        record.write(b"early:" + os.read(0, 4096) + b"\n")
print(" ☐ Tone\n\nFormal or informal?\n\n❯ 1. Formal\n  2. Informal\n\n"
      "Enter to select · ↑/↓ to navigate · Esc to cancel", flush=True)
while b"\r" not in (chunk := os.read(0, 4096)) and b"\n" not in chunk:
    record.write(chunk)
record.write(b"answered\n")
open("answered.txt", "w").write("formal\n")
subprocess.run(["git", "add", "answered.txt"], check=True)
subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@a", "commit", "-qm", "Answered"],
               check=True)
hook("PostToolUse", {"tool_name": "AskUserQuestion", "tool_input": question})
hook("Stop", {"last_assistant_message": "Done."})
print("✻ Worked for 1s", flush=True)
time.sleep(3600)
