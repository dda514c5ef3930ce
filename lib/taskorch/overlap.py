"""Which earlier tasks touch files that overlap a new task's files.

Two `files` entries overlap when the paths are equal, when one is a directory that contains the
other, or when one is a glob that matches the other. An empty entry ("") is the whole repository
(a task that lists no files).

Tasks are fed in order. For each new entry the index returns the earlier tasks it must wait for so
that every overlapping pair is ordered, without adding an edge for every pair: a task that covers a
directory stands in for everything under it that came before it, so chains stay short and edges
stay O(entries).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

_GLOB = re.compile(r"[*?\[]")


def is_glob(entry: str) -> bool:
    return bool(_GLOB.search(entry))


def ancestors(path: str) -> list[str]:
    """'a/b/c' -> ['a/b', 'a', ''] ('' is the repository root)."""
    if not path:
        return []
    out = []
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        out.append(path)
    out.append("")
    return out


def glob_root(pattern: str) -> str:
    """The literal directory a glob cannot leave: 'src/*/x.js' -> 'src'."""
    literal = _GLOB.split(pattern, 1)[0]
    return literal.rsplit("/", 1)[0] if "/" in literal else ""


def looks_like_directory(path: str) -> bool:
    """'' (the whole repository), or a last part without a dot: 'src', 'docs/api'."""
    return "." not in path.rsplit("/", 1)[-1]


def _prefix(pattern: str) -> str:
    return _GLOB.split(pattern, 1)[0]


def _suffix(pattern: str) -> str:
    return re.split(r"[*?\]]", pattern)[-1]


# Past this many `**/` in one pattern, trying each subset of them would cost 2**n matches.
_MAX_DOUBLE_STARS = 6


def _zero_directory_forms(pattern: str) -> set[str]:
    """`pattern` with every subset of its `**/` dropped: in git's glob semantics `**/` also
    matches zero directories, which fnmatch (where '*' crosses '/') cannot express."""
    parts = pattern.split("**/")
    if len(parts) - 1 > _MAX_DOUBLE_STARS:
        return {pattern, "".join(parts)}
    forms = {parts[0]}
    for part in parts[1:]:
        forms = {f + "**/" + part for f in forms} | {f + part for f in forms}
    return forms


def glob_matches(path: str, pattern: str) -> bool:
    """fnmatch, plus `**/` standing for no directory at all: `**/*.py` matches `setup.py`."""
    if "**/" not in pattern:
        return fnmatchcase(path, pattern)
    return any(fnmatchcase(path, form) for form in _zero_directory_forms(pattern))


def glob_overlaps(pattern: str, entry: str) -> bool:
    """Whether a glob can touch what `entry` (a path, a directory, or another glob) names.

    fnmatch's '*' also matches '/', so a glob can reach into any directory its literal prefix
    allows. Two globs overlap when some path could match both: their literal prefixes and
    suffixes must agree (a necessary condition, so this errs on the side of serializing).
    """
    if is_glob(entry):
        a, b, c, d = _prefix(pattern), _prefix(entry), _suffix(pattern), _suffix(entry)
        return (a.startswith(b) or b.startswith(a)) and (c.endswith(d) or d.endswith(c))
    if glob_matches(entry, pattern):
        return True
    if looks_like_directory(entry):
        inside, prefix = (entry + "/" if entry else ""), _prefix(pattern)
        return prefix.startswith(inside) or inside.startswith(prefix)
    return False


def overlaps(a: str, b: str) -> bool:
    """The definition the index implements: equal, one contains the other, or a glob matches."""
    if is_glob(a) or is_glob(b):
        return glob_overlaps(a, b) if is_glob(a) else glob_overlaps(b, a)
    return a == b or a == "" or b == "" or b.startswith(a + "/") or a.startswith(b + "/")


class FileIndex:
    """Feed tasks in order with `waits_for`, then `add`; ask before adding each task."""

    def __init__(self) -> None:
        self._exact: dict[str, int] = {}            # path -> latest task that named it
        self._under: dict[str, list[tuple[int, str]]] = {}  # dir -> (task, entry) below it
        self._globs_at: dict[str, list[tuple[int, str]]] = {}  # glob root -> (task, glob)

    def waits_for(self, entries: tuple[str, ...]) -> dict[int, set[tuple[str, str]]]:
        """Earlier tasks to wait for, each with the (their entry, our entry) pairs that overlap."""
        found: dict[int, set[tuple[str, str]]] = {}
        for entry in entries:
            for task, theirs in self._overlapping(entry):
                found.setdefault(task, set()).add((theirs, entry))
        return found

    def add(self, task: int, entries: tuple[str, ...]) -> None:
        for entry in entries:
            if is_glob(entry):
                home = glob_root(entry)
                self._globs_at.setdefault(home, []).append((task, entry))
                for directory in [home] + ancestors(home):
                    self._under.setdefault(directory, []).append((task, entry))
            else:
                self._exact[entry] = task
                for directory in ancestors(entry):
                    self._under.setdefault(directory, []).append((task, entry))

    def _overlapping(self, entry: str) -> list[tuple[int, str]]:
        glob = is_glob(entry)
        home = glob_root(entry) if glob else entry

        def below(theirs: str) -> bool:
            # Everything under a literal entry is inside it; a glob must match to overlap.
            return not glob or glob_overlaps(entry, theirs)

        # The latest task that named this path, or a directory above it, covers all before it.
        cover, cover_entry = max((self._exact.get(p, -1), p) for p in [home] + ancestors(home))
        hits = [(cover, cover_entry)] if cover >= 0 else []
        seen: set[str] = set()
        for task, theirs in reversed(self._under.get(home, [])):
            if task <= cover:
                break
            if theirs not in seen:
                seen.add(theirs)
                if below(theirs):
                    hits.append((task, theirs))
        # A glob only reaches below its literal root, so the globs that can touch this entry from
        # above are those rooted here or at an ancestor; those rooted below were walked above.
        hits.extend((task, pattern) for directory in [home] + ancestors(home)
                    for task, pattern in self._globs_at.get(directory, ())
                    if task > cover and pattern not in seen and glob_overlaps(pattern, entry))
        return hits
