"""taskorch: the verbs for the orchestrator.yaml beside this file. `doit list` shows them."""

from taskorch.dodo import namespace

globals().update(namespace(__file__))
