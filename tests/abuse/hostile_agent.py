"""Scripted agent for tests/test_abuse.py: hostile output, hostile questions.

usage: hostile_agent.py MARKER RECORD_FILE

1. Prints text that would run `touch MARKER` if anything evaluated it (a shell, tmux's command or
   format parser, Jinja), and raw terminal escapes (window title, clipboard, tmux passthrough,
   the end of a bracketed paste).
2. Asks a question its profile may answer ("Trust this folder?") on a line full of hostile text,
   and appends exactly what it is sent to RECORD_FILE.
3. Commits its work like the demo agent, then asks a question no profile answers ("Proceed?")
   and waits.
"""

import os
import sys
from pathlib import Path

from taskorch import demo_agent

marker, record = sys.argv[1], Path(sys.argv[2])
for line in [f"$(touch {marker})", f"`touch {marker}`", f"'; touch {marker}; '",
             f"x ; run-shell 'touch {marker}' ;", f"#(touch {marker}) #{{session_name}}",
             "C-c", "Enter", "{{ 7*7 }}", "{% for x in range(3) %}loop{% endfor %}"]:
    print(line, flush=True)
sys.stdout.write(f"\x1b]2;$(touch {marker})\x07"       # window title
                 "\x1b]52;c;dG91Y2ggL3RtcC94\x07"       # clipboard write
                 f"\x1bPtmux;\x1b\x1b]2;`touch {marker}`\x07\x1b\\"  # tmux passthrough
                 "\x1b[201~"                            # end of a bracketed paste
                 f"\x1bk$(touch {marker})\x1b\\\n")     # window name
sys.stdout.flush()
print(f"Trust this folder? $(touch {marker}) ; run-shell 'touch {marker}' ;", flush=True)
answer = sys.stdin.readline()
with open(record, "a") as f:
    f.write(answer)
for i in range(20):  # scroll the answered question out of the screen's tail
    print(f"hostile-agent: working {i}", flush=True)
demo_agent.main([os.environ["TASKORCH_PROMPT_FILE"]])
print(f"Proceed? $(touch {marker}) (y/n)", flush=True)
sys.stdin.readline()
