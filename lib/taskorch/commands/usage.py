"""Each verb's usage, declared once: its task dict takes `params` and its doc from here, and
`doit VERB --help` (or `-h`) prints it.

doit itself refuses `--help` after a task name ("option --help not recognized"), so dodo.py
answers it before doit parses anything, and before the manifest is even loaded: help must work
in a directory whose manifest is broken.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any, Iterable

HELP_FLAGS = ("-h", "--help")
WIDTH = 100


@dataclass(frozen=True)
class Verb:
    """One `doit` verb as a person sees it. `params` are doit's own param dicts."""

    name: str
    summary: str  # one line: `doit list` shows it
    params: tuple[dict[str, Any], ...] = ()
    positional: str = ""  # e.g. "<task id>", for verbs that take one
    details: str = ""  # paragraphs shown under the summary by --help
    examples: tuple[str, ...] = field(default=())

    def task(self, **task: Any) -> dict[str, Any]:
        """A doit task dict for this verb: `task` plus its params, and verbose output."""
        return {"params": [dict(p) for p in self.params], "uptodate": [False], "verbosity": 2,
                **({"pos_arg": "ids"} if self.positional else {}), **task}


def _option(param: dict[str, Any]) -> str:
    names = [f"-{param['short']}"] if param.get("short") else []
    names.append(f"--{param['long']}")
    takes_value = param.get("type") is not bool
    metavar = param.get("metavar") or param["name"].upper()
    return ", ".join(names) + (f" {metavar}" if takes_value else "")


def synopsis(lead: str, parts: list[str]) -> list[str]:
    """`lead` and the option parts, wrapped between parts at WIDTH, later lines under the
    first part."""
    lines, line = [], lead
    for part in parts:
        if len(line) + 1 + len(part) > WIDTH and line.strip() != lead.strip():
            lines.append(line)
            line = " " * len(lead)
        line += " " + part
    return lines + [line]


def render(verb: Verb) -> str:
    """The text `doit VERB --help` prints."""
    parts = [*(f"[{_option(p).split(', ')[-1]}]" for p in verb.params), verb.positional]
    rows = [(_option(p), p.get("help", "")) for p in verb.params]
    rows.append(("-h, --help", "show this help and exit"))
    width = max(len(left) for left, _ in rows) + 2
    out = [*synopsis(f"usage: doit {verb.name}", [p for p in parts if p]), "", verb.summary]
    if verb.details:
        out += ["", textwrap.fill(verb.details.strip(), width=WIDTH)]
    out += ["", "options:"]
    for left, right in rows:  # a long help wraps under itself
        lines = textwrap.wrap(right, WIDTH - 2 - width) or [""]
        out += [f"  {left.ljust(width)}{lines[0]}".rstrip(),
                *(" " * (2 + width) + line for line in lines[1:])]
    if verb.examples:
        out += ["", "examples:"] + [f"  {example}" for example in verb.examples]
    return "\n".join(out)


def asked(argv: list[str], verbs: Iterable[Verb]) -> Verb | None:
    """The verb whose help `argv` (doit's command line, without the program) asks for, if any.

    `launch:t1 --help` is the launch verb's help. A `--` ends the options."""
    by_name = {verb.name: verb for verb in verbs}
    current = None
    for arg in argv:
        if arg == "--":
            return None
        if arg in HELP_FLAGS and current is not None:
            return current
        current = by_name.get(arg.split(":", 1)[0], current)
    return None
