"""Scripted agent that prints an error and exits with the code given (default 3)."""

import sys

print("fail-agent: error: something broke", flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
