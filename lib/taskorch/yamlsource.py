"""Read YAML (or JSON) into plain Python values while remembering each value's line.

Validation errors must name `file:line: path.to.field`, and PyYAML's plain loaders throw the
line numbers away, so we compose the node graph ourselves and record a line per path.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from taskorch.terminal import escaped

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
    text_lines: list[str] = field(default_factory=list, repr=False)
    built: dict[int, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def line(self, path: FieldPath) -> int:
        """The line of the value at `path`, or of its nearest ancestor that has one."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: FieldPath, message: str) -> None:
        text = f"{self.name}:{self.line(path)}: {render_path(path)}: {message}"
        self.errors.append(one_line(text))


def one_line(text: str) -> str:
    """Show control characters (newlines, escapes) as escapes, so an error stays one line."""
    return escaped(text)


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
    """Parse YAML text; syntax problems land in `Source.errors` instead of raising.

    libyaml's loader is about six times faster (measured in bench/); when it finds a problem the
    pure-Python loader reads the text again, for its clearer messages and marks.
    """
    text = _json_safe_text(text)
    deep = _too_deep(text)
    if deep is not None:
        source = Source(name=name, data=None, text_lines=text.splitlines())
        source.errors.append(_too_deep_error(name, deep))
        return source
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        source = _parse_with(fast, text, name)
        if not source.errors or "nests too deeply" in source.errors[0]:
            return source
    return _parse_with(yaml.SafeLoader, text, name)


# libyaml's C composer recurses once per level with no check and dies with SIGSEGV somewhere
# between 20,000 and 50,000 levels (measured); our own builder stops far earlier, at Python's
# recursion limit, with a clear error.
SAFE_DEPTH = 10_000


def _too_deep(text: str) -> int | None:
    """The line where the nesting passes SAFE_DEPTH, or None.

    A flow level needs a '[' or '{'; a block level needs more indentation or a '- ' / '? ' on
    the same line, so one line of n characters holds at most about n of them. That bound rules
    out nearly every file at once; the event walk (which has no recursion) is for the rest."""
    widest = max(map(len, text.splitlines()), default=0)
    if text.count("[") + text.count("{") + 2 * widest <= SAFE_DEPTH:
        return None
    return _nesting_line(text, SAFE_DEPTH)


def _nesting_line(text: str, limit: int) -> int | None:
    """The line where the nesting first passes `limit` levels, found by walking events (which
    needs no recursion), or None."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > limit:
                    return event.start_mark.line + 1
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        return _libyaml_nesting_line(exc)  # other syntax errors: the loaders word them better
    except yaml.YAMLError:
        pass
    return None


def _libyaml_nesting_line(exc: yaml.MarkedYAMLError) -> int | None:
    """libyaml 0.2.5 as bundled with PyYAML 6.0.4 refuses more than 1,000 levels itself
    ("exceeded maximum nesting depth"); that is our nesting error, at the line it names."""
    if "maximum nesting depth" not in f"{exc.problem} {exc.context}":
        return None
    return exc.problem_mark.line + 1 if exc.problem_mark else 1


def _too_deep_error(name: str, line: int) -> str:
    return f"{name}:{line}: syntax: the YAML nests too deeply to read; flatten it"


def _parse_with(loader_class: type, text: str, name: str) -> Source:
    source = Source(name=name, data=None, text_lines=text.splitlines())
    try:
        loader = loader_class(text)
    except yaml.YAMLError as exc:  # a byte YAML does not allow (NUL, raw escapes, UTF-16)
        source.errors.append(one_line(f"{name}:1: syntax: {exc}; save the file as UTF-8 text"))
        return source
    try:
        node = loader.get_single_node()
        if node is not None:
            source.data = _build(loader, node, (), source)
    except yaml.MarkedYAMLError as exc:
        deep = _libyaml_nesting_line(exc)
        source.errors.append(_too_deep_error(name, deep) if deep else
                             one_line(f"{name}:{_syntax_line(exc)}: syntax: {_syntax_message(exc)}"))
    except RecursionError:
        # Our builder recurses per level: past Python's limit, name the line it gave up at.
        depth_reached = sys.getrecursionlimit() // 3
        source.errors.append(_too_deep_error(name, _nesting_line(text, depth_reached) or 1))
    except ValueError as exc:  # e.g. an integer of thousands of digits
        source.errors.append(one_line(f"{name}:1: syntax: {exc}; shorten that value"))
    except yaml.YAMLError as exc:
        source.errors.append(one_line(f"{name}:1: syntax: {exc}; fix the YAML syntax"))
    finally:
        loader.dispose()
    return source


def _comment_swallowed(source: Source, node: yaml.Node) -> bool:
    """`issue: #3` reads as null plus a comment; a comment right after ':' with no space is
    almost always a value the user meant."""
    if node.value not in ("", None) or node.start_mark.line >= len(source.text_lines):
        return False
    rest = source.text_lines[node.start_mark.line][node.start_mark.column:]
    return bool(re.match(r"\s*#\S", rest))


class _SelfReference(yaml.MarkedYAMLError):
    pass


# Unclosed brackets and quotes are reported by PyYAML where it gave up (often the end of the
# file); the line where the construct opened is the one a person needs.
_OPENED_AT = {"flow sequence": "'['", "flow mapping": "'{'", "quoted scalar": "quote"}


def _syntax_line(exc: yaml.MarkedYAMLError) -> int:
    context = exc.context or ""
    mark = exc.context_mark if exc.context_mark and any(w in context for w in _OPENED_AT) else None
    mark = mark or exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark else 1


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    if "'\\t'" in problem or "\t" in problem:
        return f"{problem}; indent with spaces, not tabs"
    opened = next((what for key, what in _OPENED_AT.items() if key in (exc.context or "")), None)
    if opened:
        return f"{problem}; the {opened} opened on this line is not closed; close it"
    return problem if ";" in problem else f"{problem}; fix the YAML syntax there"


MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"


def _build(loader: Any, node: yaml.Node, path: FieldPath, source: Source,
           open_nodes: frozenset[int] = frozenset()) -> Any:
    # An alias is the same node again: build it once, or a "billion laughs" file expands
    # nine to the ninth nodes.
    built = source.built.get(id(node))
    if built is not None:
        return built[1]
    value = _build_node(loader, node, path, source, open_nodes)
    source.built[id(node)] = (node, value)
    return value


def _build_node(loader: Any, node: yaml.Node, path: FieldPath, source: Source,
                open_nodes: frozenset[int]) -> Any:
    if id(node) in open_nodes:
        raise _SelfReference(None, None, "this anchored collection contains an alias to itself; "
                             "write the value out instead", node.start_mark)
    source.lines[path] = node.start_mark.line + 1
    inner = open_nodes | {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for src in sources:
                    value = _build(loader, src, path, source, inner)
                    if isinstance(value, dict):
                        merged = {**value, **merged}
                continue
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
            result[key] = _build(loader, value_node, child, source, inner)
            if value_node.tag == NULL_TAG and _comment_swallowed(source, value_node):
                source.error(child, "is empty because '#' starts a YAML comment; quote the "
                             "value or drop the '#'")
        return {**merged, **result}
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), source, inner) for i, item in enumerate(node.value)]
    try:
        value = loader.construct_object(node)
    except ValueError:  # Python refuses to read an integer of more than 4,300 digits
        source.error(path, f"a number of {len(node.value):,} characters is too long to read; "
                     "shorten it")
        return None
    if isinstance(value, (_dt.datetime, _dt.date)):
        # Unquoted timestamps are a YAML type; the manifest keeps them as the text written.
        return node.value
    return value
