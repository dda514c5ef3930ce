"""One phase's DAG as inline SVG: laid out by Graphviz's `dot` when it is installed, else by a
plain layered grid, and drawn by this module either way.

`dot -Tplain` only gives positions and edge splines; the SVG itself is always written here, so
every node carries the same `data-task`, state class, link and tooltip whichever engine placed
it, and no text of Graphviz's reaches the page. The graph handed to `dot` names nodes `n0, n1,
...`; a task's id only appears as a quoted, escaped label, so no task id or title can change the
graph's meaning. `dot` runs with a timeout, on stdin; if it is missing, fails or is slow, or
the phase is too big for it to be quick (DOT_MAX), the grid is used and the page still shows
every task.

Edges are what a task waits for that is a task (dependsOn, same-file order). A task waited for
in another phase is drawn as a small dashed stub, so no edge is lost when a phase is drawn
alone.
"""

from __future__ import annotations

import functools
import html
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass

from taskorch.views.states import css

NODE_W, NODE_H = 150.0, 40.0  # px, the same for both engines, so the drawing does not depend
GAP_X, GAP_Y = 56.0, 14.0     # on the engine's idea of a font's width
MARGIN = 8.0
DOT_TIMEOUT = 10.0  # seconds; a phase that takes longer is drawn on the grid
# Nodes plus edges past which a phase goes straight to the grid: dot took 0.5 s for 150 tasks
# and 368 edges of the synthetic backlog (bench/dashboard.py), 3.8 s for 200 and 519, 9.9 s for
# 300 and 780; its crossing minimisation grows much faster than the graph.
DOT_MAX = 600
TITLE_CHARS = 22
PPI = 72.0  # dot's plain output is in inches

Point = tuple[float, float]


@dataclass(frozen=True)
class Graph:
    nodes: list[str]   # the phase's task ids, manifest order
    stubs: list[str]   # tasks of other phases they wait for
    edges: list[tuple[str, str, str]]  # (waited for, waiter, reason)


@dataclass(frozen=True)
class Placed:
    centres: dict[str, Point]
    edges: list[tuple[str, str, str, list[Point]]]  # with their path's points
    width: float
    height: float
    engine: str  # "dot" or "grid"


def graph(ids: list[str], waits: dict[str, list[tuple[str, str]]]) -> Graph:
    inside = set(ids)
    # one arrow per pair: a dependsOn that also shares files is drawn once, as a dependsOn
    kinds: dict[tuple[str, str], str] = {}
    for task in ids:
        for waited, reason in waits.get(task, ()):
            if kinds.get((waited, task)) != "dependsOn":
                kinds[(waited, task)] = reason
    edges = [(waited, task, reason) for (waited, task), reason in kinds.items()]
    stubs = list(dict.fromkeys(w for w, _, _ in edges if w not in inside))
    return Graph(ids, stubs, edges)


def quoted(text: str) -> str:
    """A DOT quoted string: backslashes and quotes escaped, line breaks and other controls made
    spaces (a backslash before a newline would join lines)."""
    flat = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_source(g: Graph) -> tuple[str, dict[str, str]]:
    """The graph in DOT, and each node name's task."""
    names = {f"n{i}": task for i, task in enumerate(g.stubs + g.nodes)}
    of = {task: name for name, task in names.items()}
    lines = ["digraph phase {", "rankdir=LR;", f"nodesep={GAP_Y / PPI:.3f};",
             f"ranksep={GAP_X / PPI:.3f};",
             f"node [shape=box, fixedsize=true, width={NODE_W / PPI:.4f}, "
             f"height={NODE_H / PPI:.4f}];"]
    lines += [f"{name} [label={quoted(task)}];" for name, task in names.items()]
    lines += [f"{of[a]} -> {of[b]};" for a, b, _ in g.edges]
    return "\n".join(lines + ["}", ""]), names


def parse_plain(text: str, names: dict[str, str], reasons: dict[tuple[str, str], str]) -> Placed:
    """Positions from `dot -Tplain` (inches, y up) in px, y down."""
    centres: dict[str, Point] = {}
    edges: list[tuple[str, str, str, list[Point]]] = []
    height = width = 0.0
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["graph"]:
            width, height = float(words[2]) * PPI, float(words[3]) * PPI
        elif words[:1] == ["node"]:
            centres[names[words[1]]] = (float(words[2]) * PPI + MARGIN,
                                        height - float(words[3]) * PPI + MARGIN)
        elif words[:1] == ["edge"]:
            tail, head, count = names[words[1]], names[words[2]], int(words[3])
            coords = [float(w) for w in words[4:4 + 2 * count]]
            points = [(x * PPI + MARGIN, height - y * PPI + MARGIN)
                      for x, y in zip(coords[::2], coords[1::2])]
            edges.append((tail, head, reasons.get((tail, head), "dependsOn"), points))
    if len(centres) != len(names):
        raise ValueError("dot left out nodes")
    return Placed(centres, edges, width + 2 * MARGIN, height + 2 * MARGIN, "dot")


@functools.lru_cache(maxsize=64)
def _plain(program: str, source: str) -> str | None:
    """dot's plain output, kept: a graph changes only with the manifest, so the live page's
    refreshes lay each phase out once, and a dot that failed or timed out is not asked again."""
    try:
        done = subprocess.run([program, "-Tplain"], input=source, capture_output=True,
                              text=True, timeout=DOT_TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def with_dot(g: Graph) -> Placed | None:
    """dot's layout, or None when dot is not installed, fails, takes too long or the phase is
    bigger than dot lays out in about half a second."""
    program = shutil.which("dot")
    if program is None or len(g.nodes) + len(g.stubs) + len(g.edges) > DOT_MAX:
        return None
    source, names = dot_source(g)
    plain = _plain(program, source)
    if plain is None:
        return None
    try:
        return parse_plain(plain, names, {(a, b): r for a, b, r in g.edges})
    except (ValueError, IndexError, KeyError):
        return None


def layers(g: Graph) -> dict[str, int]:
    """Longest-path layering: each task one column right of the furthest thing it waits for."""
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for a, b, _ in g.edges:
        preds[b].append(a)
        succs[a].append(b)
    order = g.stubs + g.nodes
    left = {n: len(preds[n]) for n in order}
    layer = dict.fromkeys(order, 0)
    ready = [n for n in order if not left[n]]
    while ready:  # Kahn's order: the plan is acyclic, so every node is reached
        node = ready.pop()
        for nxt in succs[node]:
            layer[nxt] = max(layer[nxt], layer[node] + 1)
            left[nxt] -= 1
            if not left[nxt]:
                ready.append(nxt)
    return layer


def grid(g: Graph) -> Placed:
    """The fallback: columns by layer, rows in manifest order, edges as S-curves."""
    layer = layers(g)
    rows: dict[int, int] = defaultdict(int)
    centres: dict[str, Point] = {}
    for node in g.stubs + g.nodes:
        col = layer[node]
        centres[node] = (MARGIN + NODE_W / 2 + col * (NODE_W + GAP_X),
                         MARGIN + NODE_H / 2 + rows[col] * (NODE_H + GAP_Y))
        rows[col] += 1
    edges = []
    for a, b, reason in g.edges:
        (ax, ay), (bx, by) = centres[a], centres[b]
        start, end = (ax + NODE_W / 2, ay), (bx - NODE_W / 2, by)
        mid = (start[0] + end[0]) / 2
        edges.append((a, b, reason, [start, (mid, start[1]), (mid, end[1]), end]))
    columns = max(layer.values(), default=0) + 1
    height = max(rows.values(), default=1)
    return Placed(centres, edges, 2 * MARGIN + columns * NODE_W + (columns - 1) * GAP_X,
                  2 * MARGIN + height * NODE_H + (height - 1) * GAP_Y, "grid")


def path(points: list[Point]) -> str:
    """An SVG path through a B-spline's points as dot gives them (1 + 3k: cubic pieces)."""
    head, rest = points[0], points[1:]
    d = [f"M{head[0]:.1f},{head[1]:.1f}"]
    for i in range(0, len(rest) - len(rest) % 3, 3):
        d.append("C" + " ".join(f"{x:.1f},{y:.1f}" for x, y in rest[i:i + 3]))
    return "".join(d)


def short(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size - 1] + "…"


def svg(phase: int, ids: list[str], waits: dict[str, list[tuple[str, str]]],
        titles: dict[str, str], states: dict[str, str], phase_of: dict[str, int]) -> str:
    """Phase `phase`'s DAG: a scrollable SVG sized to its layout (viewBox in px)."""
    g = graph(ids, waits)
    placed = with_dot(g) or grid(g)
    e = html.escape
    marker = f"arrow-{phase}"
    out = [f'<svg class="dag" data-phase="{phase + 1}" data-layout="{placed.engine}" '
           f'width="{placed.width:.0f}" height="{placed.height:.0f}" '
           f'viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" role="img" '
           f'aria-label="phase {phase + 1} dependencies">',
           f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" '
           'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           '<path d="M0,0L10,5L0,10z"/></marker></defs><g class="edges">']
    out += [f'<path class="edge e-{"same-file" if reason == "same-file" else "dependsOn"}" '
            f'd="{path(points)}" marker-end="url(#{marker})"><title>{e(b)} waits for {e(a)}'
            f' ({e(reason)})</title></path>' for a, b, reason, points in placed.edges]
    out.append('</g><g class="nodes">')
    for stub in g.stubs:
        x, y = placed.centres[stub]
        out.append(
            f'<a href="#task-{e(stub)}"><g class="node stub {css(states.get(stub, ""))}" '
            f'data-ref="{e(stub)}"><title>{e(stub)} (phase {phase_of.get(stub, 0) + 1}): '
            f'{e(titles.get(stub, ""))}</title>'
            f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" width="{NODE_W:.0f}" '
            f'height="{NODE_H:.0f}" rx="6"/><text x="{x:.1f}" y="{y + 4:.1f}">'
            f'{e(short(stub, 20))} (phase {phase_of.get(stub, 0) + 1})</text></g></a>')
    for task in ids:
        x, y = placed.centres[task]
        state = states.get(task, "")
        out.append(
            f'<a href="#task-{e(task)}"><g class="node {css(state)}" data-task="{e(task)}" '
            f'data-state="{e(state)}"><title>{e(task)}: {e(titles.get(task, ""))} ({e(state)})'
            f'</title><rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" '
            f'width="{NODE_W:.0f}" height="{NODE_H:.0f}" rx="6"/>'
            f'<text class="id" x="{x:.1f}" y="{y - 4:.1f}">{e(short(task, 20))}</text>'
            f'<text class="title" x="{x:.1f}" y="{y + 12:.1f}">'
            f'{e(short(titles.get(task, ""), TITLE_CHARS))}</text></g></a>')
    out.append("</g></svg>")
    return "".join(out)
