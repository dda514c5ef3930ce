"""What rendering the dashboard (issue 13) costs: `doit dashboard`'s page for a big manifest,
with Graphviz's `dot` laying out each phase's DAG and with the built-in grid (PATH without
`dot`). Render only: the board read from a seeded state store, then the HTML; no doit process,
no browser.

The manifest is the synthetic backlog of bench/workload.py (5 phases, Zipf-skewed files so
same-file chains form, 0-2 dependsOn among the 200 tasks before), nothing started. Each figure is the
median of --repeat runs after the first; the first render is given apart, as the only one
that runs `dot` (its layouts are kept for the live page's refreshes, dag._plain).

    python bench/dashboard.py [--sizes 500,2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

import workload  # noqa: E402  bench/workload.py: the shared synthetic backlog
from taskorch.project import Project  # noqa: E402
from taskorch.views import board, dag, dashboard  # noqa: E402

PHASES = 5


def without_dot() -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if d and not (Path(d) / "dot").exists())


def timed(project: Project, repeat: int) -> tuple[float, float, float, int, str]:
    """Median seconds to read the board; the first render (dot runs) and the median of the
    later ones (its layouts kept); the page's size in bytes; the layouts the phases got."""
    dag._plain.cache_clear()
    reads, renders, size, engines = [], [], 0, ""
    for _ in range(repeat + 1):
        started = time.perf_counter()
        shown = board.read(project)
        read = time.perf_counter()
        page = dashboard.html(shown)
        reads.append(read - started)
        renders.append(time.perf_counter() - read)
        size = len(page.encode())
        engines = ",".join(sorted(set(re.findall(r'data-layout="(\w+)"', page))))
    return statistics.median(reads[1:]), renders[0], statistics.median(renders[1:]), size, engines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = os.environ["PATH"]
    print("tasks  PATH     read board  first render  later renders  page size  layouts used")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "orchestrator.yaml"
            data = {"project": "bench", "repo": "demo", "agent": "demo", "hook": False,
                    "phases": [{"name": f"Phase {p + 1}", "tasks": tasks} for p, tasks in
                               enumerate(workload.phases(size, PHASES, 1, window=200))]}
            target.write_text(yaml.safe_dump(data, sort_keys=False))
            project = Project.load(target, store=True)
            for label, search in (("dot", path), ("no dot", without_dot())):
                os.environ["PATH"] = search
                read, first, later, bytes_, engines = timed(project, args.repeat)
                print(f"{size:5}  {label:7}  {read:8.2f} s  {first:10.2f} s  {later:11.2f} s  "
                      f"{bytes_ / 1e6:6.2f} MB  {engines}", flush=True)
            os.environ["PATH"] = path
            project.store.close()


if __name__ == "__main__":
    main()
