"""Fixtures of the agent's integration tests (on the shared local test cluster)."""

from __future__ import annotations

import pytest

from podplay.control.agent_client import ClusterAccess, access_from_inventory
from podplay.substrate import Cluster


@pytest.fixture(scope="session")
def access(cluster: Cluster) -> ClusterAccess:
    """The cluster's agents and token, found the way `podplay get` finds them."""
    return access_from_inventory(cluster.inventory, cluster.name)


@pytest.fixture(scope="session")
def busybox_on_nodes(cluster: Cluster, busybox_image):  # type: ignore[no-untyped-def]
    """busybox side-loaded onto every node by the collection's `images` action."""
    from helpers import run_playbook

    from podplay import paths

    playbook = paths.repo_root() / "tests" / "integration" / "agent" / "playbooks" / "images.yml"
    result = run_playbook(cluster, playbook, {"test_images": [busybox_image.as_var()]})
    result.raise_for_failure("side-loading busybox")
    return busybox_image


@pytest.fixture(scope="session", autouse=True)
def pods_from_files(cluster: Cluster) -> None:
    """These tests write pod manifests by hand, and an agent runs its files only while the
    store holds no binding table (site.yml wrote one, empty): take the table away, as an
    operator hands the nodes back to their files. The next play writing pods (the routing
    tests' agent.yml) writes it again."""
    from helpers import node_exec

    table = f"/podplay/{cluster.name}/table"
    done = node_exec(cluster, "node1", ["python3", "/opt/podplay/podplay-node.pyz", "store",
                                        "del", table])  # fmt: skip
    assert done.ok, done.stderr
