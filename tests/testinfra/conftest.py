"""testinfra checks share the integration tests' cluster (same process, same cluster)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from helpers import session_cluster, testinfra_host

from podplay.substrate import Cluster


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    return session_cluster(request)


@pytest.fixture(scope="session")
def hosts(cluster: Cluster) -> dict:
    """testinfra Host per node name."""
    return {node.name: testinfra_host(cluster, node) for node in cluster.nodes}
