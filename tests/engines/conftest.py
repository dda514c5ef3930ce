"""Fixtures for the cluster-engine tests (issue 11): real engines in private namespaces."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from slurm_cluster import SlurmCluster, installed


@pytest.fixture
def slurm_cluster(tmp_path: Path) -> Iterator[SlurmCluster]:
    """A started one-node Slurm cluster; stopped, with no process left, whatever the test did."""
    why = installed()
    if why:
        pytest.skip(f"Slurm test cluster: {why}")
    cluster = SlurmCluster(tmp_path / "slurm").start()
    try:
        yield cluster
    finally:
        survivors = cluster.stop()
        print(cluster.logs())  # shown by pytest when the test failed
        print(f"slurm cluster: start {cluster.timings['start']:.2f}s, "
              f"stop {cluster.timings['stop']:.3f}s")
    assert not survivors, f"processes outlived the Slurm test cluster: {survivors}"
