"""Scripted agent for tests/test_abuse.py: commits symlinks that point out of its worktree.

usage: symlink_agent.py OUTSIDE_DIR

Commits links to OUTSIDE_DIR, to a file in it, to /etc, to ../../../.., a dangling link and a
loop, plus one real file; leaves one more link to OUTSIDE_DIR uncommitted (taskorch commits it).
"""

import os
import subprocess
import sys
from pathlib import Path

outside = sys.argv[1]
os.symlink(outside, "outside_dir")
os.symlink(os.path.join(outside, "canary.txt"), "outside_file")
os.symlink("/etc", "etc")
os.symlink("../../../../../../../../..", "up")
os.symlink("/nonexistent/taskorch-dangling", "dangling")
os.symlink("loop_b", "loop_a")
os.symlink("loop_a", "loop_b")
Path("work.txt").write_text("real work\n")
identity = ["-c", "user.name=symlink agent", "-c", "user.email=symlink@taskorch.invalid"]
subprocess.run(["git", "add", "-A"], check=True)
subprocess.run(["git", *identity, "commit", "--quiet", "-m", "links out of the worktree"], check=True)
os.symlink(outside, "late_link")
print("symlink-agent: committed links, left one uncommitted", flush=True)
