"""The dashboard's HTML: the template, its style and the live page's script, all constant.

Nothing read from the project is ever part of a template's source: values reach the page only
as variables of these templates, which autoescape them, or as SVG the drawing modules built
with every text escaped. The page links no stylesheet, script, font or image, so the written
file opens anywhere, offline, and shows nothing it did not carry.
"""

from __future__ import annotations

STYLE = """
:root { --line: #d0d7de; --muted: #57606a; font: 14px/1.4 system-ui, sans-serif; color: #1f2328; }
body { margin: 0 16px 24px; background: #f6f8fa; }
h1 { font-size: 20px; margin: 12px 0 2px; } h2 { font-size: 16px; margin: 18px 0 6px; }
.summary, .health { margin: 2px 0; color: var(--muted); }
.live-note { color: var(--muted); } body.stale .live-note::after { content: " - not refreshing: is doit serve still running?"; color: #cf222e; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 3px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); background: #f6f8fa; }
td .title { color: var(--muted); }
tr.needs td:first-child { border-left: 4px solid #cf222e; }
.why { max-width: 46em; overflow-wrap: anywhere; }
.needs-box { border: 1px solid #cf222e; border-radius: 6px; padding: 0 10px 8px; background: #fff5f5; }
.needs-box h2 { color: #cf222e; }
.empty { color: var(--muted); }
details.phase { margin: 8px 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; }
details.phase > summary { cursor: pointer; font-size: 15px; padding: 4px 0; }
.alert { color: #cf222e; font-weight: 600; }
.scroll { overflow: auto; max-height: 70vh; border: 1px solid var(--line); background: #fff; }
.dag-box { overflow: auto; max-height: 60vh; margin: 4px 0 8px; }
details.log summary { cursor: pointer; color: var(--muted); }
details.log pre { max-height: 24em; overflow: auto; background: #0d1117; color: #e6edf3; padding: 6px; font-size: 12px; white-space: pre-wrap; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; }
svg.dag .node rect { stroke: #57606a; stroke-width: 1; }
svg.dag .node text { text-anchor: middle; fill: #1f2328; }
svg.dag .node text.id { font-weight: 600; }
svg.dag .stub rect { fill: #fff !important; stroke-dasharray: 4 3; }
svg.dag .edge { fill: none; stroke: #57606a; stroke-width: 1.2; }
svg.dag .e-same-file { stroke-dasharray: 5 3; }
svg.dag marker path { fill: #57606a; }
svg.timeline .tick { stroke: #eaeef2; fill: var(--muted); }
svg.timeline text.tick { stroke: none; text-anchor: middle; }
svg.timeline text.phase { font-weight: 600; }
svg.timeline text.zone { fill: var(--muted); }
svg.timeline .bar { stroke: #57606a; stroke-width: .5; }
svg.timeline .bar.open { stroke-dasharray: 3 2; }
.s-pending { background: #e2e8f0; fill: #e2e8f0; }
.s-blocked { background: #cbd5e1; fill: #cbd5e1; }
.s-running { background: #93c5fd; fill: #93c5fd; }
.s-stuck { background: #fca5a5; fill: #fca5a5; }
.s-error { background: #fdba74; fill: #fdba74; }
.s-complete { background: #c4b5fd; fill: #c4b5fd; }
.s-pr_open { background: #d8b4fe; fill: #d8b4fe; }
.s-merged { background: #86efac; fill: #86efac; }
.s-skipped { background: #e5e7eb; fill: #e5e7eb; }
.s-other { background: #fff; fill: #fff; }
.legend span { margin-right: 6px; }
"""

# The live page (`doit serve`): asks /version every few seconds and, when it changed, swaps in
# /body, keeping which phases and logs are open; a log is fetched from /log/<id> when opened.
SCRIPT = """
(() => {
  const board = document.getElementById('board');
  let version = document.body.dataset.version;
  const every = Number(document.body.dataset.every) || 2000;
  const remember = () => {
    const open = {};
    board.querySelectorAll('details[id]').forEach(d => { open[d.id] = d.open; });
    return open;
  };
  const restore = open => {
    board.querySelectorAll('details[id]').forEach(d => { if (d.id in open) d.open = open[d.id]; });
  };
  const showLog = async d => {
    const pre = d.querySelector('pre');
    try {
      const r = await fetch('log/' + encodeURIComponent(d.dataset.log), {cache: 'no-store'});
      pre.textContent = await r.text();
    } catch (e) { pre.textContent = 'could not fetch the log: ' + e; }
  };
  board.addEventListener('toggle', ev => {
    const d = ev.target;
    if (d.open && d.dataset && d.dataset.log) showLog(d);
  }, true);
  const poll = async () => {
    try {
      const now = (await (await fetch('version', {cache: 'no-store'})).text()).trim();
      if (now !== version) {
        const r = await fetch('body', {cache: 'no-store'});
        const html = await r.text();
        const open = remember();
        board.innerHTML = html;
        restore(open);
        version = r.headers.get('X-Taskorch-Version') || now;
        document.body.dataset.version = version;
      }
      document.body.classList.remove('stale');
    } catch (e) { document.body.classList.add('stale'); }
    setTimeout(poll, every);
  };
  setTimeout(poll, every);
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% if not live %}<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
{% endif %}<title>taskorch {{ board.project }}</title>
<style>{{ style }}</style></head>
<body data-version="{{ board.version }}" data-every="{{ every }}" data-live="{{ 1 if live else 0 }}">
<main id="board">{{ body }}</main>
{% if live %}<script>{{ script }}</script>{% endif %}
</body></html>
"""

BODY = """<header>
<h1>taskorch: {{ board.project }}</h1>
<p class="summary">{{ board.cards|length }} tasks: {{ board.tally }}{% if board.usage %}; usage: {{ board.usage }}{% endif %}</p>
<p class="health">{{ board.health }}</p>
<p class="live-note">As of {{ generated }} UTC{% if live %}; live: refreshes by itself after each heartbeat{% endif %}.</p>
</header>
<section id="needs-you" class="needs-box">
<h2>Needs you ({{ board.needing|length }})</h2>
{% if board.needing %}<table><thead><tr><th>task</th><th>phase</th><th>state</th><th>why</th></tr></thead><tbody>
{% for c in board.needing %}<tr class="needs" data-id="{{ c.id }}"><td><a href="#task-{{ c.id }}"><b>{{ c.id }}</b></a><div class="title">{{ c.title }}</div></td>
<td>{{ c.phase + 1 }}</td><td><span class="badge {{ css(c.status) }}">{{ c.status }}</span></td><td class="why">{{ c.reason or '-' }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p class="empty">Nothing waits for a person.</p>{% endif %}
</section>
<section id="phases">
<h2>Tasks by phase</h2>
<p class="legend">{% for s in legend %}<span class="badge {{ css(s) }}">{{ s }}</span>{% endfor %}</p>
{% for p in phases %}
<details class="phase" id="phase-{{ p.number }}" data-phase="{{ p.number }}"{% if p.open %} open{% endif %}>
<summary><b>{{ p.name }}</b>: {{ p.cards|length }} tasks, {{ p.tally }}{% if p.needing %} <span class="alert">{{ p.needing }} need{{ 's' if p.needing == 1 }} you</span>{% endif %}</summary>
<div class="dag-box">{{ p.dag }}</div>
<table class="tasks"><thead><tr><th>task</th><th>state</th><th>attempt</th><th>PR / branch</th><th>cost</th><th>last activity</th><th>why</th></tr></thead><tbody>
{% for c in p.cards %}<tr id="task-{{ c.id }}" data-id="{{ c.id }}"{% if c.needs_you %} class="needs"{% endif %}>
<td><b>{{ c.id }}</b><div class="title">{{ c.title }}</div></td>
<td><span class="badge {{ css(c.status) }}">{{ c.status }}</span></td>
<td>{{ c.attempts }}{% if c.rounds %}, round {{ c.rounds }}{% endif %}</td>
<td>{% if c.pr_number %}PR #{{ c.pr_number }}{% else %}{{ c.delivery or c.branch or '-' }}{% endif %}</td>
<td>{{ c.cost }}</td>
<td title="{{ c.active_at or '' }}">{{ age(c.active_at) }}</td>
<td class="why">{{ c.reason or '-' }}{% if c.attempts %}
<details class="log" id="log-{{ c.id }}" data-log="{{ c.id }}"><summary>log, attempt {{ c.attempts }}</summary><pre>{% if c.log is none %}loading...{% else %}{{ c.log|join('\n') }}{% endif %}</pre></details>{% endif %}</td></tr>
{% endfor %}</tbody></table>
</details>
{% endfor %}
</section>
<section id="timeline">
<h2>Attempts over time</h2>
<div class="scroll">{{ timeline }}</div>
</section>
"""
