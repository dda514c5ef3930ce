"""Read YAML (or JSON) into plain Python values while remembering each value's line.

Validation errors must name `file:line: path.to.field`, and PyYAML's plain loaders throw the
line numbers away, so we compose the node graph ourselves and record a line per path.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FieldPath = tuple[str | int, ...]


def render_path(path: FieldPath) -> str:
    """Render ('phases', 0, 'tasks', 1, 'id') as 'phases[0].tasks[1].id'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


@dataclass
class Source:
    """The parsed document plus where each of its values came from."""

    name: str
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self, path: FieldPath) -> int:
        """The line of the value at `path`, or of its nearest ancestor that has one."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: FieldPath, message: str) -> None:
        self.errors.append(f"{self.name}:{self.line(path)}: {render_path(path)}: {message}")


def display_name(path: Path) -> str:
    """The manifest's name as a user would type it from the current directory."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
        return str(rel)
    except ValueError:
        return str(path)


def _json_safe_text(text: str) -> str:
    # YAML forbids tabs as indentation but JSON allows them. A valid JSON document cannot hold a
    # raw tab inside a string, so expanding tabs keeps both the meaning and the line numbers.
    if text.lstrip().startswith(("{", "[")) and "\t" in text:
        try:
            json.loads(text)
        except ValueError:
            return text
        return text.replace("\t", " ")
    return text


def parse(text: str, name: str) -> Source:
    """Parse YAML text; syntax problems land in `Source.errors` instead of raising."""
    source = Source(name=name, data=None)
    loader = yaml.SafeLoader(_json_safe_text(text))
    try:
        node = loader.get_single_node()
        if node is not None:
            source.data = _build(loader, node, (), source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        source.errors.append(f"{name}:{line}: syntax: {problem}; fix the YAML syntax there")
    except yaml.YAMLError as exc:
        source.errors.append(f"{name}:1: syntax: {exc}; fix the YAML syntax")
    finally:
        loader.dispose()
    return source


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: FieldPath, source: Source) -> Any:
    source.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                source.lines[path + (str(key),)] = key_node.start_mark.line + 1
                source.error(path + (str(key),), f"key {key!r} must be a string; quote it")
                continue
            child = path + (key,)
            if key in result:
                source.lines[child] = key_node.start_mark.line + 1
                source.error(child, f"duplicate key '{key}'; keep only one of them")
                continue
            result[key] = _build(loader, value_node, child, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), source) for i, item in enumerate(node.value)]
    value = loader.construct_object(node)
    if isinstance(value, (_dt.datetime, _dt.date)):
        # Unquoted timestamps are a YAML type; the manifest keeps them as the text written.
        return node.value
    return value
