"""`doit schema`: the manifest's JSON Schema (draft 2020-12), from the one schema (schema.py).

It needs no manifest, so dodo.py answers it before loading one, as it does `--help`: a person
whose manifest does not load yet is the one who wants the schema.
"""

from __future__ import annotations

import json
from typing import Callable

from taskorch import schema
from taskorch.commands.usage import Verb
from taskorch.terminal import out

# Committed beside the shipped example, whose modeline names it; tests/test_schema_verb.py keeps
# it equal to what `doit schema` prints.
COMMITTED = "schema/orchestrator.schema.json"


def text() -> str:
    return json.dumps(schema.json_schema(), indent=2, ensure_ascii=False)


def asked(argv: list[str]) -> bool:
    """Whether the command line is just `doit schema` (or `doit run schema`)."""
    return [arg for arg in argv if arg != "run"] == ["schema"]


def answer(argv: list[str]) -> None:
    if asked(argv):
        out(text())
        raise SystemExit(0)


VERB = Verb(
    "schema", "Print the manifest's JSON Schema (draft 2020-12), for editors and CI.",
    details="Generated from the one declaration that also validates the manifest "
            "(lib/taskorch/schema.py): unknown keys are rejected at every level. Checks that "
            "need more than one value (unknown or cyclic dependencies, duplicate ids, prompts "
            "on disk, placeholders) stay `doit plan`'s. For editors using yaml-language-server, "
            "save it and name it in a comment of the manifest, as the second example shows.",
    examples=("doit schema > orchestrator.schema.json",
              "# yaml-language-server: $schema=orchestrator.schema.json"))


def creator() -> Callable[[], dict]:
    def task_schema() -> dict:
        return VERB.task(actions=[lambda: out(text())])

    task_schema.__doc__ = VERB.summary
    return task_schema
