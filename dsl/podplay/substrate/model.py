"""What a local cluster is: its nodes and where to reach them. Plain data, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from podplay.errors import UserInputError

NAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")
MAX_NODES = 100


@dataclass(frozen=True)
class Node:
    """One node: inventory host name, container, cluster address and pod CIDR."""

    name: str
    container: str
    address: str
    pod_cidr: str
    index: int
    state: str = "running"


@dataclass(frozen=True)
class Cluster:
    """A local cluster as it exists on the Docker engine (found by label).

    `inventory` and `ssh_key` live in `podplay.paths.cluster_dir(name)`; `lb_pool` is the
    addresses LoadBalancer services may take (the top of the node subnet).
    """

    name: str
    nodes: tuple[Node, ...]
    network: str
    subnet: str
    inventory: Path
    ssh_key: Path
    lb_pool: tuple[str, ...] = field(default_factory=tuple)

    def node(self, name_or_index: str | int) -> Node:
        """A node by inventory name (`node2`) or index (2)."""
        for node in self.nodes:
            if name_or_index in (node.name, node.index, node.container):
                return node
        raise KeyError(f"cluster {self.name} has no node {name_or_index!r}")

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `podplay cluster list -o json`."""
        return {
            "name": self.name,
            "network": self.network,
            "subnet": self.subnet,
            "inventory": str(self.inventory),
            "lb_pool": list(self.lb_pool),
            "nodes": [
                {
                    "name": n.name,
                    "container": n.container,
                    "address": n.address,
                    "pod_cidr": n.pod_cidr,
                    "index": n.index,
                    "state": n.state,
                }
                for n in self.nodes
            ],
        }


def validate_name(name: str) -> str:
    """A cluster name becomes container, network and host names: keep it DNS-label-like."""
    if not NAME_RE.match(name or ""):
        raise UserInputError(
            f"cluster name {name!r} is invalid: use 1 to 32 lowercase letters, digits and "
            "hyphens, starting with a letter and not ending with a hyphen (e.g. 'dev-1')"
        )
    return name


def validate_node_count(count: int) -> int:
    """Between 1 and MAX_NODES nodes (each node takes a /24 of the pod CIDR and an address)."""
    if not 1 <= count <= MAX_NODES:
        raise UserInputError(
            f"--nodes {count} is out of range: a cluster has between 1 and {MAX_NODES} nodes"
        )
    return count


def validate_cidrs(pod_cidr: str, service_cidr: str, node_count: int) -> None:
    """A pod CIDR with a /24 for every node, and a service CIDR apart from it."""
    try:
        pods = ipaddress.IPv4Network(pod_cidr)
        services = ipaddress.IPv4Network(service_cidr)
    except ValueError as err:
        raise UserInputError(f"pod or service CIDR is not an IPv4 network: {err}") from None
    if not 8 <= pods.prefixlen <= 23 or 2 ** (24 - pods.prefixlen) <= node_count:
        raise UserInputError(
            f"pod CIDR {pod_cidr} has no /24 for each of {node_count} node(s) (node i takes "
            "the i-th /24; use a /8 to /23 network)"
        )
    if pods.overlaps(services):
        raise UserInputError(f"service CIDR {service_cidr} overlaps pod CIDR {pod_cidr}")
