"""Which nodes the cluster has, each with a pod /24 that never moves once given.

Local clusters (`nodes=N`) have nodes `node1..nodeN` with the i-th /24 of the pod CIDR (the
node README's contract with the substrate). Real hosts get /24s by position in the program's
list; a host added later takes the lowest free /24 and a host kept keeps its /24 (read from
the previous plan), so adding or removing one host never renumbers the others. A node that
keeps its /24 keeps its pod IP cursor too (`NodePlan.last_pod_ip`, moved on by placement).
"""

from __future__ import annotations

from ipaddress import IPv4Network

from podplay.dsl import Cluster, ProgramError
from podplay.dsl.network import node_subnet, node_subnet_count, parse_network
from podplay.plan.model import Capacity, ClusterFacts, NodeFacts, NodePlan, Plan

HOSTNAME_LABEL = "podplay.io/hostname"


def plan_nodes(
    cluster: Cluster, facts: ClusterFacts | None, previous: Plan | None
) -> list[NodePlan]:
    """The cluster's nodes in order, with addresses (when known), pod CIDRs and labels."""
    pod_net = IPv4Network(cluster.pod_cidr)
    entries = _entries(cluster, facts)
    known = {}
    cursors: dict[str, str | None] = {}
    if previous is not None and previous.cluster.pod_cidr == cluster.pod_cidr:
        known = {n.name: n.pod_cidr for n in previous.nodes}
        cursors = {n.name: n.last_pod_ip for n in previous.nodes}

    cidrs: dict[str, str] = {}
    taken: set[str] = set()
    for entry in entries:  # given by the world (the substrate numbers local nodes)
        if entry.pod_cidr is not None:
            cidrs[entry.name] = _check_given(cluster, entry, pod_net, taken)
            taken.add(cidrs[entry.name])
    for entry in entries:  # kept from the previous plan
        cidr = known.get(entry.name)
        if entry.name not in cidrs and cidr is not None and cidr not in taken:
            cidrs[entry.name] = cidr
            taken.add(cidr)
    free = (
        str(node_subnet(pod_net, i))
        for i in range(1, node_subnet_count(pod_net) + 1)
        if str(node_subnet(pod_net, i)) not in taken
    )
    for entry in entries:  # new: lowest free /24, in order
        if entry.name not in cidrs:
            cidrs[entry.name] = next(free)
    return [
        NodePlan(
            name=e.name,
            address=e.address,
            pod_cidr=cidrs[e.name],
            labels={HOSTNAME_LABEL: e.name, **e.labels},
            capacity=e.capacity,
            ready=e.ready,
            connection=dict(e.connection),
            last_pod_ip=cursors.get(e.name) if known.get(e.name) == cidrs[e.name] else None,
        )
        for e in entries
    ]


def _entries(cluster: Cluster, facts: ClusterFacts | None) -> list[NodeFacts]:
    by_name = {n.name: n for n in facts.nodes} if facts else {}
    if isinstance(cluster.nodes, list):
        entries = []
        for node in cluster.nodes:
            seen = by_name.get(node.name)
            connection: dict[str, str | int | bool] = {
                "ansible_host": node.address,
                "ansible_user": node.user,
                "ansible_port": node.port,
            }
            if node.ssh_key is not None:
                connection["ansible_ssh_private_key_file"] = node.ssh_key
            if node.user != "root":  # the roles configure the host: sudo to root
                connection["ansible_become"] = True
            entries.append(
                NodeFacts(
                    name=node.name,
                    address=node.address,
                    pod_cidr=seen.pod_cidr if seen else None,
                    capacity=seen.capacity if seen else Capacity(),
                    labels={**(seen.labels if seen else {}), **node.labels},
                    ready=seen.ready if seen else True,
                    connection=connection,
                )
            )
        return entries
    if cluster.inventory is not None:
        if facts is None or not facts.nodes:
            raise ProgramError.one(
                cluster.location,
                cluster.describe(),
                f'inventory "{cluster.inventory}" lists no hosts',
            )
        return list(facts.nodes)
    count = cluster.node_count or 1
    if facts is None:
        return [NodeFacts(name=f"node{i}") for i in range(1, count + 1)]
    if len(facts.nodes) != count:
        raise ProgramError.one(
            cluster.location,
            cluster.describe(),
            f"nodes={count} but the existing cluster has {len(facts.nodes)} nodes; change "
            f"nodes or delete the cluster (podplay cluster delete {cluster.name})",
        )
    return list(facts.nodes)


def _check_given(cluster: Cluster, entry: NodeFacts, pod_net: IPv4Network, taken: set[str]) -> str:
    try:
        net = parse_network(entry.pod_cidr or "")
    except ValueError:
        net = None
    if net is None or net.prefixlen != 24 or not net.subnet_of(pod_net) or str(net) in taken:
        raise ProgramError.one(
            cluster.location,
            cluster.describe(),
            f'node "{entry.name}" has pod CIDR {entry.pod_cidr}, which is not a free /24 of '
            f"pod_cidr {cluster.pod_cidr}; the cluster was made with other settings",
        )
    return str(net)
