"""network.json, `/etc/podplay/network.json`: this node and every node's pod CIDR.

Written by `network apply --desired -` (the network role), read by `network apply` at boot.
The `nodes` entries are the shape of the inventory's `podplay_nodes` (the renderer builds
them as `Peer` records). Messages start with "network.json".
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, NamedTuple, Tuple

from podplay.node.contract import addresses, defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import read_json

CONFIG_FIELDS = ("node", "address", "pod_cidr", "cluster_pod_cidr", "service_cidr",
                 "bridge_network", "bridge_name", "nodes", "node_only_ports")  # fmt: skip
PEER_FIELDS = ("name", "address", "pod_cidr")


class Peer(NamedTuple):
    """One node of the cluster: where it is and which pod CIDR it routes."""

    name: str
    address: str
    pod_cidr: str

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "address": self.address, "pod_cidr": self.pod_cidr}


class NetworkConfig(NamedTuple):
    node: str
    address: str
    pod_cidr: str
    cluster_pod_cidr: str
    service_cidr: str
    bridge_network: str
    bridge_name: str
    nodes: Tuple[Peer, ...]
    # sshd's, the store's and the agent API's ports: refused to pods on every node
    node_only_ports: Tuple[int, ...] = defaults.NODE_ONLY_PORTS

    @classmethod
    def from_json(cls, doc: Any) -> NetworkConfig:
        """Validate a decoded network.json document."""
        return _config(doc)

    @classmethod
    def load(cls, path: str = defaults.NETWORK_JSON) -> NetworkConfig:
        return _config(read_json(path))

    @property
    def peers(self) -> List[Peer]:
        """Every other node."""
        return [n for n in self.nodes if n.name != self.node]

    @property
    def gateway(self) -> str:
        """The bridge's own address in the pod CIDR (.1)."""
        return addresses.gateway(self.pod_cidr)

    def to_json(self) -> Dict[str, Any]:
        return {
            "node": self.node,
            "address": self.address,
            "pod_cidr": self.pod_cidr,
            "cluster_pod_cidr": self.cluster_pod_cidr,
            "service_cidr": self.service_cidr,
            "bridge_network": self.bridge_network,
            "bridge_name": self.bridge_name,
            "nodes": [n.to_json() for n in self.nodes],
            "node_only_ports": list(self.node_only_ports),
        }


def _only(doc: Any, known: Tuple[str, ...], where: str) -> None:
    """Strict about names: a field renamed on one side only is caught where it is read."""
    unknown = sorted(set(doc) - set(known)) if isinstance(doc, dict) else []
    if unknown:
        raise ContractError("%s has an unknown field %s" % (where, unknown[0]))


def _peer(n: Any, where: str) -> Peer:
    _only(n, PEER_FIELDS, where)
    return Peer(str(n["name"]), str(n["address"]), str(n["pod_cidr"]))


def _ports(value: Any) -> Tuple[int, ...]:
    ok = isinstance(value, (list, tuple)) and value
    if not ok or not all(type(p) is int and 0 < p < 65536 for p in value):
        raise ContractError("network.json node_only_ports must be a list of TCP ports (1-65535)")
    return tuple(value)


def _config(doc: Any) -> NetworkConfig:
    if not isinstance(doc, dict):
        raise ContractError("network.json must hold a JSON object")
    _only(doc, CONFIG_FIELDS, "network.json")
    try:
        nodes = tuple(_peer(n, "network.json nodes[%d]" % i) for i, n in enumerate(doc["nodes"]))
        cfg = NetworkConfig(
            node=str(doc["node"]),
            address=str(doc["address"]),
            pod_cidr=str(doc["pod_cidr"]),
            cluster_pod_cidr=str(doc.get("cluster_pod_cidr", defaults.POD_CIDR)),
            service_cidr=str(doc.get("service_cidr", defaults.SERVICE_CIDR)),
            bridge_network=str(doc.get("bridge_network", defaults.BRIDGE_NETWORK)),
            bridge_name=str(doc.get("bridge_name", defaults.BRIDGE_NAME)),
            nodes=nodes,
            node_only_ports=_ports(doc.get("node_only_ports", defaults.NODE_ONLY_PORTS)),
        )
    except (KeyError, TypeError) as err:
        raise ContractError("network.json lacks field %s" % err) from None
    try:
        cluster = ipaddress.ip_network(cfg.cluster_pod_cidr)
        cidrs = [ipaddress.ip_network(c) for c in [cfg.pod_cidr] + [n.pod_cidr for n in nodes]]
        ipaddress.ip_network(cfg.service_cidr)
        for addr in [cfg.address] + [n.address for n in nodes]:
            ipaddress.ip_address(addr)
    except ValueError as err:
        raise ContractError(str(err)) from None
    for cidr in cidrs:
        if not cidr.subnet_of(cluster):  # type: ignore[arg-type]
            raise ContractError("pod CIDR %s is outside %s" % (cidr, cluster))
    return cfg
