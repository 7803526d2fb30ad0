"""network.json, `/etc/podplay/network.json`: this node and every node's pod CIDR.

Written by `network apply --desired -` (the network role), read by `network apply` at boot.
The `nodes` entries are the shape of the inventory's `podplay_nodes` (the renderer builds
them as `Peer` records). Messages start with "network.json: " and name the field.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, NamedTuple, Tuple

from podplay.node.contract import addresses, defaults, fields
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


WHERE = "network.json"


def _peer(raw: Any, where: str) -> Peer:
    fields.only(fields.document(raw, where, "an object"), PEER_FIELDS, where, ".")
    return Peer(
        fields.string(raw, "name", where, "."),
        fields.ip_address(fields.string(raw, "address", where, "."), where + ".address"),
        fields.ip_network(
            fields.string(raw, "pod_cidr", where, "."), where + ".pod_cidr", strict=True
        ),
    )


def _ports(value: Any) -> Tuple[int, ...]:
    ok = isinstance(value, (list, tuple)) and value
    if not ok or not all(type(p) is int and 0 < p < 65536 for p in value):
        raise ContractError(
            "%s: node_only_ports: expected a list of TCP ports (1-65535), got %r" % (WHERE, value)
        )
    return tuple(value)


def _text(doc: Dict[str, Any], field: str, default: str) -> str:
    return fields.optional(doc, field, WHERE, str) or default


def _config(doc: Any) -> NetworkConfig:
    fields.only(fields.document(doc, WHERE), CONFIG_FIELDS, WHERE)
    nodes = fields.required(doc, "nodes", WHERE, list)
    cfg = NetworkConfig(
        node=fields.string(doc, "node", WHERE),
        address=fields.ip_address(fields.string(doc, "address", WHERE), WHERE + ": address"),
        pod_cidr=fields.ip_network(
            fields.string(doc, "pod_cidr", WHERE), WHERE + ": pod_cidr", strict=True
        ),
        cluster_pod_cidr=fields.ip_network(
            _text(doc, "cluster_pod_cidr", defaults.POD_CIDR),
            WHERE + ": cluster_pod_cidr",
            strict=True,
        ),
        service_cidr=fields.ip_network(
            _text(doc, "service_cidr", defaults.SERVICE_CIDR), WHERE + ": service_cidr", strict=True
        ),
        bridge_network=_text(doc, "bridge_network", defaults.BRIDGE_NETWORK),
        bridge_name=_text(doc, "bridge_name", defaults.BRIDGE_NAME),
        nodes=tuple(_peer(n, "%s: nodes[%d]" % (WHERE, i)) for i, n in enumerate(nodes)),
        node_only_ports=_ports(doc.get("node_only_ports", defaults.NODE_ONLY_PORTS)),
    )
    cluster = ipaddress.ip_network(cfg.cluster_pod_cidr)
    for at, cidr in [("pod_cidr", cfg.pod_cidr)] + [
        ("nodes[%d].pod_cidr" % i, n.pod_cidr) for i, n in enumerate(cfg.nodes)
    ]:
        if not ipaddress.ip_network(cidr).subnet_of(cluster):  # type: ignore[arg-type]
            raise ContractError(
                "%s: %s: %s is outside the cluster's pod CIDR %s" % (WHERE, at, cidr, cluster)
            )
    return cfg
