"""Small defects an operator trips over: each test here failed before its fix."""

from __future__ import annotations

import json

from conftest import manifest


def plan_waits(control) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    out = json.loads(control.doit("plan", "--format", "json").stdout)
    return {t["id"]: {w["id"] for w in t["waitsFor"]} for t in out["tasks"]}


def test_double_star_slash_also_matches_zero_directories(control):
    control.write(manifest([[{"id": "all", "title": "x", "files": ["**/*.py"]},
                             {"id": "setup", "title": "x", "files": ["setup.py"]},
                             {"id": "src", "title": "x", "files": ["src/**/*.py"]},
                             {"id": "a", "title": "x", "files": ["src/a.py"]},
                             {"id": "doc", "title": "x", "files": ["README.md"]}]]))
    waits = plan_waits(control)
    assert "all" in waits["setup"]
    assert "src" in waits["a"]
    assert waits["doc"] == set()
