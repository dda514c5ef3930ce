"""The synthetic backlog the bench scripts plan and run: N tasks over some phases, each listing
1-3 files from a Zipf-skewed pool of about N/3 (a few hot files, so same-file chains form) and
depending on 0-2 earlier tasks. Each script then sets the few statuses its scenario needs."""

from __future__ import annotations

import random
from typing import Any

DIRS = ("src/api", "src/core", "src/core/storage", "src/ui", "tests", "docs")


def phases(n: int, count: int, seed: int, window: int | None = None) -> list[list[dict[str, Any]]]:
    """`count` lists of task dicts; `window` limits dependsOn to the last `window` tasks."""
    rng = random.Random(f"{seed}:{n}")
    pool = [f"{rng.choice(DIRS)}/mod{i}.py" for i in range(max(3, n // 3))]
    weights = [1 / (rank + 2) for rank in range(len(pool))]
    sizes = [n // count + (p < n % count) for p in range(count)]
    out: list[list[dict[str, Any]]] = []
    ids: list[str] = []
    for size in sizes:
        tasks = []
        for _ in range(size):
            task_id = f"t{len(ids) + 1}"
            wanted, files = rng.randint(1, 3), []
            while len(files) < wanted:
                f = rng.choices(pool, weights)[0]
                files += [f] if f not in files else []
            earlier = ids[-window:] if window else ids
            deps = rng.sample(earlier, min(len(earlier), rng.randint(0, 2)))
            tasks.append({"id": task_id, "issue": len(ids) + 1, "title": f"Change {files[0]}",
                          "files": files, **({"dependsOn": deps} if deps else {})})
            ids.append(task_id)
        out.append(tasks)
    return out
