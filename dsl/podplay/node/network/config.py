"""network.json, the network role's contract with the node (see ../README.md)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, List, NamedTuple

DEFAULT_CONFIG = "/etc/podplay/network.json"


class ConfigError(ValueError):
    """network.json is missing, not JSON, or inconsistent."""


class Peer(NamedTuple):
    name: str
    address: str
    pod_cidr: str


class NetworkConfig(NamedTuple):
    node: str
    address: str
    pod_cidr: str
    cluster_pod_cidr: str
    service_cidr: str
    bridge_network: str
    bridge_name: str
    nodes: List[Peer]

    @property
    def peers(self) -> List[Peer]:
        """Every other node."""
        return [n for n in self.nodes if n.name != self.node]

    @property
    def gateway(self) -> str:
        """The bridge's own address in the pod CIDR (.1)."""
        return str(ipaddress.ip_network(self.pod_cidr).network_address + 1)


def parse_config(doc: Any) -> NetworkConfig:
    """Validate a decoded network.json document."""
    if not isinstance(doc, dict):
        raise ConfigError("network.json must hold a JSON object")
    try:
        nodes = [Peer(str(n["name"]), str(n["address"]), str(n["pod_cidr"])) for n in doc["nodes"]]
        cfg = NetworkConfig(
            node=str(doc["node"]),
            address=str(doc["address"]),
            pod_cidr=str(doc["pod_cidr"]),
            cluster_pod_cidr=str(doc.get("cluster_pod_cidr", "10.244.0.0/16")),
            service_cidr=str(doc.get("service_cidr", "10.96.0.0/16")),
            bridge_network=str(doc.get("bridge_network", "podplay")),
            bridge_name=str(doc.get("bridge_name", "podplay0")),
            nodes=nodes,
        )
    except (KeyError, TypeError) as err:
        raise ConfigError("network.json lacks field %s" % err) from None
    try:
        cluster = ipaddress.ip_network(cfg.cluster_pod_cidr)
        for cidr in [cfg.pod_cidr] + [n.pod_cidr for n in cfg.nodes]:
            if not ipaddress.ip_network(cidr).subnet_of(cluster):  # type: ignore[arg-type]
                raise ConfigError("pod CIDR %s is outside %s" % (cidr, cluster))
        ipaddress.ip_network(cfg.service_cidr)
        for addr in [cfg.address] + [n.address for n in cfg.nodes]:
            ipaddress.ip_address(addr)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return cfg


def load_config(path: str = DEFAULT_CONFIG) -> NetworkConfig:
    try:
        with open(path) as handle:
            doc = json.load(handle)
    except OSError as err:
        raise ConfigError("cannot read %s: %s" % (path, err.strerror)) from None
    except ValueError as err:
        raise ConfigError("%s is not JSON: %s" % (path, err)) from None
    return parse_config(doc)
