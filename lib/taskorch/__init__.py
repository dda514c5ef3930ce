"""taskorch: run a backlog of coding tasks with many AI coding agents at once, safely."""

__version__ = "0.1.0"
