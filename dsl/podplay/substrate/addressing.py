"""Addresses of a local cluster, decided before anything is created (pure functions).

Each cluster gets its own /24 node subnet on the machine's Docker engine, chosen among
those no existing network or route uses. Inside it: gateway .1, node i at .(10+i), Docker's
own automatic assignment limited to the lower half, and the top 16 addresses below the
broadcast address kept for LoadBalancer IPs. Node i's pod CIDR is the i-th /24 of the
cluster pod CIDR (10.244.0.0/16 unless the program says otherwise); the node subnet never
overlaps the cluster's pod or service CIDR.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from podplay.errors import EnvironmentProblem
from podplay.node.contract import defaults

NODE_SUBNET_RANGE = ipaddress.IPv4Network("172.30.0.0/16")
POD_CIDR = defaults.POD_CIDR
SERVICE_CIDR = defaults.SERVICE_CIDR
DNS_IP = defaults.DNS_IP
LB_POOL_SIZE = 16
NODE_OFFSET = 10

Net = ipaddress.IPv4Network


@dataclass(frozen=True)
class NodePlan:
    """Where node `index` of a cluster lives."""

    index: int
    name: str
    container: str
    volume: str
    address: str
    pod_cidr: str


@dataclass(frozen=True)
class ClusterPlan:
    """Everything `cluster create` will make, computed before it makes anything."""

    name: str
    network: str
    subnet: str
    gateway: str
    ip_range: str
    nodes: tuple[NodePlan, ...]
    lb_pool: tuple[str, ...]
    pod_cidr: str = POD_CIDR
    service_cidr: str = SERVICE_CIDR
    dns_ip: str = DNS_IP


def candidate_subnets(space: Net = NODE_SUBNET_RANGE) -> Iterator[Net]:
    """The /24s a cluster may take, in order."""
    return space.subnets(new_prefix=24)


def choose_subnet(
    used: Iterable[Net], skip: Iterable[Net] = (), space: Net = NODE_SUBNET_RANGE
) -> Net:
    """The first candidate /24 overlapping nothing in `used` or `skip`."""
    taken = [*used, *skip]
    for subnet in candidate_subnets(space):
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise EnvironmentProblem(
        f"no free /24 for a cluster network is left in {space}: delete unused clusters or "
        "Docker networks"
    )


def node_address(subnet: Net, index: int) -> str:
    """Node `index` (1-based) sits at .(10+index) of the node subnet."""
    return str(subnet.network_address + NODE_OFFSET + index)


def pod_cidr(index: int, cluster_pod_cidr: str = POD_CIDR) -> str:
    """The index-th /24 of the cluster pod CIDR (node1 -> 10.244.1.0/24)."""
    base = ipaddress.IPv4Network(cluster_pod_cidr)
    subnets = list(base.subnets(new_prefix=24))
    if not 1 <= index < len(subnets):
        raise ValueError(f"no /24 number {index} in {cluster_pod_cidr}")
    return str(subnets[index])


def lb_pool(subnet: Net, size: int = LB_POOL_SIZE) -> tuple[str, ...]:
    """The top `size` usable addresses of the subnet (below broadcast), for LoadBalancer IPs."""
    last = subnet.broadcast_address - 1
    return tuple(str(last - offset) for offset in reversed(range(size)))


def dns_ip(service_cidr: str) -> str:
    """Cluster DNS sits at .10 of the service CIDR."""
    return str(ipaddress.IPv4Network(service_cidr).network_address + 10)


def plan_cluster(
    name: str,
    node_count: int,
    subnet: Net,
    cluster_pod_cidr: str = POD_CIDR,
    service_cidr: str = SERVICE_CIDR,
) -> ClusterPlan:
    """The whole layout of cluster `name` with `node_count` nodes in `subnet` (node `i`
    gets the i-th /24 of `cluster_pod_cidr`, as the program's `pp.Cluster(pod_cidr=...)`)."""
    network = f"podplay-{name}"
    nodes = tuple(
        NodePlan(
            index=i,
            name=f"node{i}",
            container=f"{name}-node{i}",
            volume=f"{name}-node{i}-docker",
            address=node_address(subnet, i),
            pod_cidr=pod_cidr(i, cluster_pod_cidr),
        )
        for i in range(1, node_count + 1)
    )
    lower_half = next(subnet.subnets(prefixlen_diff=1))
    return ClusterPlan(
        name=name,
        network=network,
        subnet=str(subnet),
        gateway=str(subnet.network_address + 1),
        ip_range=str(lower_half),
        nodes=nodes,
        lb_pool=lb_pool(subnet),
        pod_cidr=str(ipaddress.IPv4Network(cluster_pod_cidr)),
        service_cidr=str(ipaddress.IPv4Network(service_cidr)),
        dns_ip=dns_ip(service_cidr),
    )
