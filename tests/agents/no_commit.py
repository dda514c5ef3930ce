"""Scripted agent that says it is done and exits 0 without changing anything."""

print("no-commit-agent: All tests passed. Done!", flush=True)
