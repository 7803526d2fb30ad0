"""Which nodes are the cluster's control plane: the store's (etcd's) members.

The program decides: hosts marked `pp.Node(..., control_plane=True)` (or put in an
inventory's `control_plane` group), else the first `Cluster(control_plane=N)` nodes in
order, N defaulting to 3 for clusters of 3 or more nodes and to 1 below. A local cluster's
members always follow the program (its inventory is podplay's own). The count must be 1, 3
or 5 and never more than the nodes; the DSL checks what it can see, this module the rest
(an inventory's hosts are known only here).
"""

from __future__ import annotations

from podplay.dsl import Cluster, ProgramError
from podplay.dsl.cluster import CONTROL_PLANE_SIZES, default_control_plane
from podplay.plan.model import ClusterFacts, NodePlan


def control_plane_members(
    cluster: Cluster, nodes: list[NodePlan], facts: ClusterFacts | None
) -> list[str]:
    """Names of the store's members, in node order."""
    names = [n.name for n in nodes]
    marked = _marked(cluster, facts)
    if marked:
        count = len(marked)
        if count not in CONTROL_PLANE_SIZES:
            _refuse(cluster, f"inventory puts {count} hosts in group control_plane; use 1, 3 or 5")
        if cluster.control_plane is not None and cluster.control_plane != count:
            _refuse(
                cluster,
                f"control_plane {cluster.control_plane} but the inventory puts {count} "
                f"host{'s' if count != 1 else ''} in group control_plane",
            )
        return [name for name in names if name in marked]
    count = cluster.control_plane or default_control_plane(len(names))
    if count > len(names):
        _refuse(
            cluster,
            f"control_plane {count} is more than the cluster's {len(names)} "
            f"node{'s' if len(names) != 1 else ''}",
        )
    return names[:count]


def mark_members(nodes: list[NodePlan], members: list[str]) -> list[NodePlan]:
    """The nodes with `control_plane` set for exactly the members."""
    chosen = set(members)
    return [
        n
        if n.control_plane == (n.name in chosen)
        else n.model_copy(update={"control_plane": n.name in chosen})
        for n in nodes
    ]


def _marked(cluster: Cluster, facts: ClusterFacts | None) -> set[str]:
    if isinstance(cluster.nodes, list):
        return {n.name for n in cluster.nodes if n.control_plane}
    if cluster.inventory is not None and facts is not None:
        return {n.name for n in facts.nodes if n.control_plane}
    return set()  # a local cluster: the program's count decides


def _refuse(cluster: Cluster, message: str) -> None:
    raise ProgramError.one(cluster.location, cluster.describe(), message)
