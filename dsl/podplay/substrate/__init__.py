"""Local clusters whose nodes are containers on this machine's Docker engine (like kind).

    cluster = create_cluster("dev", nodes=3)     # network, node containers, SSH, nodes.yml
    cluster.nodes[0].address, cluster.inventory  # what Ansible and tests need
    delete_cluster("dev")                        # idempotent

The Docker labels are the record (`docker_provider`); layout decisions are pure
(`addressing`, `inventory`); secrets sit in `podplay.paths.cluster_dir(name)` (`keys`).
"""

from podplay.substrate.model import Cluster, Node
from podplay.substrate.provision import (
    configure_nodes,
    create_cluster,
    delete_cluster,
    get_cluster,
    inventory_path,
    list_clusters,
    machine_ids,
)

__all__ = [
    "Cluster",
    "Node",
    "configure_nodes",
    "create_cluster",
    "delete_cluster",
    "get_cluster",
    "inventory_path",
    "list_clusters",
    "machine_ids",
]
