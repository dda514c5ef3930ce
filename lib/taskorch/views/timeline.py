"""The attempts as a Gantt chart: one row per started task, grouped by phase, one bar per
attempt placed by its journaled start and end, coloured by how it ended (or by the task's state
while it runs). Drawn by hand: bars are rectangles on a time axis, nothing needs a layout.
"""

from __future__ import annotations

import html
import time

from taskorch.terminal import shown
from taskorch.views.attempts import Span
from taskorch.views.states import css

LABEL_W, PLOT_W = 170.0, 760.0  # px
ROW_H, BAR_H, AXIS_H, HEAD_H = 18.0, 12.0, 22.0, 20.0
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
         86400, 172800, 604800)  # seconds between ticks: round numbers a reader expects
TICKS = 8  # at most, so labels never overlap


def step_for(seconds: float) -> int:
    return next((s for s in STEPS if seconds / s <= TICKS), STEPS[-1])


def clock(at: float, step: int) -> str:
    fmt = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%m-%d"
    return time.strftime(fmt, time.gmtime(at))


def span_text(span: Span, now: float) -> str:
    end = span.end if span.end is not None else now
    return (f"{span.task} attempt {span.attempt}: {clock(span.start, 1)} to "
            f"{clock(end, 1) if span.end is not None else 'now'} UTC "
            f"({int(end - span.start)} s), {span.outcome}: {shown(span.reason)}")


def svg(rows: list[tuple[int, str, list[Span]]], phases: list[str], now: float) -> str:
    """`rows` are (phase index, task id, its spans), in page order; tasks with no attempt are
    left out by the caller."""
    e = html.escape
    spans = [s for _, _, task_spans in rows for s in task_spans]
    if not spans:
        return '<p class="empty">No attempt has started yet.</p>'
    first = min(s.start for s in spans)
    last = max(max(s.end or now for s in spans), first + 1)
    scale = PLOT_W / (last - first)
    heads = len({p for p, _, _ in rows})
    height = AXIS_H + heads * HEAD_H + len(rows) * ROW_H + 4
    width = LABEL_W + PLOT_W + 10
    out = [f'<svg class="timeline" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="attempts over time">']
    step = step_for(last - first)
    tick = (first // step + 1) * step
    while tick <= last:
        x = LABEL_W + (tick - first) * scale
        out.append(f'<line class="tick" x1="{x:.1f}" y1="{AXIS_H - 4:.0f}" x2="{x:.1f}" '
                   f'y2="{height:.0f}"/><text class="tick" x="{x:.1f}" y="{AXIS_H - 8:.0f}">'
                   f'{clock(tick, step)}</text>')
        tick += step
    out.append(f'<text class="zone" x="0" y="{AXIS_H - 8:.0f}">times in UTC</text>')
    y, phase_seen = AXIS_H, None
    for phase, task, task_spans in rows:
        if phase != phase_seen:
            phase_seen = phase
            out.append(f'<text class="phase" x="0" y="{y + HEAD_H - 6:.0f}">'
                       f'{e(phases[phase])}</text>')
            y += HEAD_H
        out.append(f'<a href="#task-{e(task)}"><text class="label" x="0" '
                   f'y="{y + ROW_H - 5:.0f}">{e(task[:26])}</text></a>')
        for s in task_spans:
            x = LABEL_W + (s.start - first) * scale
            w = max(((s.end or now) - s.start) * scale, 3.0)
            out.append(f'<rect class="bar {css(s.outcome)}{" open" if s.end is None else ""}" '
                       f'data-task="{e(task)}" data-attempt="{s.attempt}" x="{x:.1f}" '
                       f'y="{y + (ROW_H - BAR_H) / 2:.1f}" width="{w:.1f}" height="{BAR_H:.0f}" '
                       f'rx="2"><title>{e(span_text(s, now))}</title></rect>')
        y += ROW_H
    out.append("</svg>")
    return "".join(out)
