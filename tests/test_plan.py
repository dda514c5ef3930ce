"""The plan: edges, same-file chains, phase gates, waves, and every output format."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from conftest import manifest as make_manifest
from taskorch import manifest, plan
from taskorch.overlap import overlaps

FIXTURES = Path(__file__).parent / "fixtures"


def build(phases, **top) -> plan.Plan:  # type: ignore[no-untyped-def]
    import tempfile
    import yaml
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "orchestrator.yaml"
        path.write_text(yaml.safe_dump(make_manifest(phases, **top)))
        return plan.build(manifest.load(path))


def waits(p: plan.Plan, task_id: str) -> set[tuple[str, str]]:
    return {(w.id, w.reason) for w in p.waits[task_id]}


@pytest.fixture
def security() -> manifest.Manifest:
    return manifest.load(FIXTURES / "skill_security.json")


def test_security_example_serializes_t7_after_t4_by_default(security):
    p = plan.build(security)
    assert p.waves() == [["t1", "t3"], ["t2"], ["t4", "t6"], ["t5", "t7"], ["t8"]]
    assert ("t4", "same-file") in waits(p, "t7")
    assert "t7 waits for t4: both touch container_executor.js" in dict(p.reasons("t7"))["t4"]


def test_security_example_with_same_file_allowed_matches_the_skill_text(security):
    p = plan.build(dataclasses.replace(security, same_file="allow"))
    # Phase 1: t1 and t3 in parallel, t2 waits for t1.
    # Phase 2: t4, t6, t7 start together; t5 waits for t4, t8 waits for t7.
    assert p.waves() == [["t1", "t3"], ["t2"], ["t4", "t6", "t7"], ["t5", "t8"]]
    assert waits(p, "t7") == {("phase:1", "phase")}


def test_plan_json_has_the_documented_shape(control):
    shutil.copy(FIXTURES / "skill_security.json", control.path / "orchestrator.json")
    out = json.loads(control.doit("plan", "--format", "json").stdout)
    assert out["waves"] == [["t1", "t3"], ["t2"], ["t4", "t6"], ["t5", "t7"], ["t8"]]
    t7 = next(t for t in out["tasks"] if t["id"] == "t7")
    assert t7["phase"] == "Phase 2: High"
    assert {"id": "t4", "reason": "same-file", "files": ["container_executor.js"]} in t7["waitsFor"]
    assert {"id": "phase:1", "reason": "phase", "files": []} in t7["waitsFor"]
    reasons = {w["reason"] for t in out["tasks"] for w in t["waitsFor"]}
    assert reasons == {"dependsOn", "same-file", "phase"}


def test_plan_text_names_phases_waves_and_reasons(control):
    shutil.copy(FIXTURES / "skill_security.json", control.path / "orchestrator.json")
    out = control.doit("plan").stdout
    assert "Phase 1: Critical" in out and "Phase 2: High" in out
    assert "t7 waits for t4: both touch container_executor.js" in out
    assert "t2 waits for t1: dependsOn; both touch ceo_root_manager.js" in out
    assert "    4: t5 t7\n" in out


def test_plan_dot_and_mermaid_draw_every_edge(control):
    shutil.copy(FIXTURES / "skill_security.json", control.path / "orchestrator.json")
    dot = control.doit("plan", "--format", "dot").stdout
    assert dot.startswith("digraph plan {") and dot.rstrip().endswith("}")
    assert '"t4" -> "t7" [style=dashed, label="container_executor.js"];' in dot
    assert '"t7" -> "t8" [style=solid];' in dot
    assert '"t3" -> "phase:1" [style=dotted];' in dot
    mermaid = control.doit("plan", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR")
    assert 't4 -.->|"container_executor.js"| t7' in mermaid
    assert "phase_1 ==> t6" in mermaid


def test_bad_format_is_refused(control):
    shutil.copy(FIXTURES / "skill_security.json", control.path / "orchestrator.json")
    result = control.doit("plan", "--format", "yaml", check=False)
    assert result.returncode != 0 and "yaml" in result.stderr


def test_same_file_chain_not_all_pairs():
    tasks = [{"id": f"t{i}", "title": "x", "files": ["hot.py"]} for i in range(50)]
    p = build([tasks])
    assert sum(len(p.waits[t.id]) for t in p.tasks) == 49
    assert waits(p, "t10") == {("t9", "same-file")}
    assert len(p.waves()) == 50


def test_chain_edges_stay_linear_on_a_large_manifest():
    tasks = [{"id": f"t{i}", "title": "x", "files": [f"d{i % 7}/f{i % 13}.py", f"d{i % 5}"]}
             for i in range(2000)]
    p = build([tasks], max_parallel=50)
    edges = sum(len(w) for w in p.waits.values())
    assert edges <= 2 * 2000 * 2  # at most a couple per entry, never O(n^2)


def test_directory_entry_waits_for_everything_under_it():
    p = build([[{"id": "a", "title": "x", "files": ["src/a.py"]},
                {"id": "b", "title": "x", "files": ["src/b.py"]},
                {"id": "c", "title": "x", "files": ["src"]},
                {"id": "d", "title": "x", "files": ["src/a.py"]}]])
    assert waits(p, "c") == {("a", "same-file"), ("b", "same-file")}
    assert waits(p, "d") == {("c", "same-file")}
    assert "d waits for c: d touches src/a.py, c touches src" in dict(p.reasons("d"))["c"]


def test_glob_entry_overlaps_what_it_matches_only():
    p = build([[{"id": "a", "title": "x", "files": ["src/a.js"]},
                {"id": "b", "title": "x", "files": ["src/b.py"]},
                {"id": "g", "title": "x", "files": ["src/*.js"]},
                {"id": "h", "title": "x", "files": ["src/c.js"]},
                {"id": "i", "title": "x", "files": ["lib/c.js"]}]])
    assert waits(p, "g") == {("a", "same-file")}
    assert waits(p, "h") == {("g", "same-file")}
    assert waits(p, "i") == set()


def test_task_without_files_is_serialized_against_everything():
    p = build([[{"id": "a", "title": "x", "files": ["x.py"]},
                {"id": "b", "title": "x", "files": ["y.py"]},
                {"id": "n", "title": "x"},
                {"id": "z", "title": "x", "files": ["z.py"]}]])
    assert waits(p, "n") == {("a", "same-file"), ("b", "same-file")}
    assert waits(p, "z") == {("n", "same-file")}


def test_same_file_order_respects_a_dependency_pointing_forward():
    p = build([[{"id": "a", "title": "x", "files": ["f"], "dependsOn": ["b"]},
                {"id": "b", "title": "x", "files": ["f"]}]])
    assert waits(p, "a") == {("b", "dependsOn"), ("b", "same-file")}
    assert waits(p, "b") == set()


def test_same_file_allow_keeps_only_dependencies_and_gates():
    p = build([[{"id": "a", "title": "x", "files": ["f"]}, {"id": "b", "title": "x", "files": ["f"]}],
               [{"id": "c", "title": "x", "files": ["f"]}]], sameFile="allow")
    assert waits(p, "b") == set()
    assert waits(p, "c") == {("phase:1", "phase")}


def test_waves_respect_max_parallel():
    tasks = [{"id": f"t{i}", "title": "x", "files": [f"f{i}"]} for i in range(7)]
    assert build([tasks], max_parallel=3).waves() == [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]


def test_blockers_say_what_is_still_open():
    p = build([[{"id": "a", "title": "x", "files": ["f"]}, {"id": "b", "title": "x", "files": ["f"]}],
               [{"id": "c", "title": "x", "files": ["g"]}]])
    assert p.blockers("b", {"a": "running"}) == ["b waits for a: both touch f"]
    assert p.blockers("b", {"a": "complete"}) == []
    assert p.blockers("c", {"a": "merged", "b": "running"}) == [
        "c waits for Phase 1: b not complete yet"]
    assert p.blockers("c", {"a": "merged", "b": "pr_open"}) == []


@pytest.mark.parametrize("seed", range(40))
def test_every_overlapping_pair_is_ordered(seed):
    """Brute force against the definition: chains must order every overlapping pair."""
    import random
    rng = random.Random(seed)
    pool = ["src", "src/a.py", "src/b.py", "src/lib", "src/lib/x.py", "src/lib/y.js", "docs",
            "docs/a.md", "src/*.py", "src/lib/*.js", "*.md", "README.md", "src/a*.py", "",
            "docs/*", "src/lib/?.py", "Makefile", "src/[ab].py"]
    tasks = []
    for i in range(60):
        files = rng.sample(pool, rng.randint(1, 3))
        tasks.append({"id": f"t{i}", "title": "x", "files": [f for f in files if f]})
    p = build([tasks])

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(w.id for w in p.waits[node])
        return False

    entries = {t["id"]: t["files"] or [""] for t in tasks}
    for j in range(len(tasks)):
        for i in range(j):
            a, b = entries[f"t{i}"], entries[f"t{j}"]
            if any(overlaps(x, y) for x in a for y in b):
                assert reaches(f"t{j}", f"t{i}"), f"t{j} {b} must wait for t{i} {a}"


def test_when_slots_are_scarce_the_longest_chain_starts_first():
    p = build([[{"id": "solo1", "title": "x", "files": ["s1"]},
                {"id": "solo2", "title": "x", "files": ["s2"]},
                {"id": "head", "title": "x", "files": ["h"]},
                {"id": "mid", "title": "x", "files": ["h"]},
                {"id": "tail", "title": "x", "files": ["h"]}]], max_parallel=1)
    assert p.priority() == {"solo1": 1, "solo2": 1, "head": 3, "mid": 2, "tail": 1}
    assert p.launch_order()[:1] == ["head"]
    assert p.waves()[0] == ["head"]


def test_a_tasks_priority_comes_before_its_chain_and_its_place():
    """`priority: high` launches first, `low` last; among equals the longest chain, then the
    manifest's order (issue 13)."""
    p = build([[{"id": "solo", "title": "x", "files": ["s1"], "priority": "low"},
                {"id": "head", "title": "x", "files": ["h"]},
                {"id": "tail", "title": "x", "files": ["h"]},
                {"id": "late", "title": "x", "files": ["s2"]},
                {"id": "urgent", "title": "x", "files": ["s3"], "priority": "high"}]],
              max_parallel=1)
    assert p.launch_order() == ["urgent", "head", "tail", "late", "solo"]
    assert p.waves()[0] == ["urgent"]
