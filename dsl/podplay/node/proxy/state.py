"""The cluster as the proxy routes it: the contract's cluster.json and agent.json records,
put in routing order.

Parsing is the contract's (podplay.node.contract: strict about shape, a bad file reported
with the field that is wrong, and the proxy keeps routing from the last good file: fail
static). What is the proxy's own is the order it routes in: services by namespace and name,
each service's endpoints once, by IP (the probability rules depend on that order), and an
ExternalName service reduced to its name. Everything is immutable and hashable so the
renderer stays a pure function.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, List, NamedTuple, Optional

from podplay.node.contract import addresses, defaults
from podplay.node.contract.agent import AgentConfig
from podplay.node.contract.cluster import ClusterState, Endpoint, NodeInfo, Service, ServicePort
from podplay.node.contract.errors import ContractError

__all__ = [
    "ClusterState",
    "Endpoint",
    "LocalNode",
    "NodeInfo",
    "Service",
    "ServicePort",
    "StateError",
    "local_node",
    "parse_agent_config",
    "parse_cluster",
    "parse_service",
    "previously_routed",
    "routing_order",
]

StateError = ContractError  # the loop's name for it: a file the proxy cannot route from


class LocalNode(NamedTuple):
    """This node, from agent.json: only what the proxy uses (a change restarts the proxy)."""

    name: str
    address: str
    pod_cidr: str
    cluster: str
    api_port: int
    token_file: str
    cluster_file: str
    dns_ip: str
    cluster_domain: str
    tls_ca: str = defaults.CA_FILE  # the agents' certificates are checked against it

    @property
    def gateway(self) -> str:
        """The pod bridge's address (.1 of the pod CIDR): where the node-local DNS listens."""
        return addresses.gateway(self.pod_cidr)


def local_node(cfg: AgentConfig) -> LocalNode:
    return LocalNode(
        name=cfg.node,
        address=cfg.address,
        pod_cidr=str(ipaddress.ip_network(cfg.pod_cidr, strict=False)),
        cluster=cfg.cluster,
        api_port=cfg.api_port,
        token_file=cfg.token_file,
        cluster_file=cfg.cluster_file,
        dns_ip=cfg.dns_ip,
        cluster_domain=cfg.cluster_domain,
        tls_ca=cfg.tls_ca,
    )


def parse_agent_config(raw: Any) -> LocalNode:
    """agent.json (already decoded) -> LocalNode."""
    return local_node(AgentConfig.from_json(raw, "agent.json"))


def parse_cluster(raw: Any) -> ClusterState:
    """cluster.json (already decoded) -> ClusterState in routing order."""
    return routing_order(ClusterState.from_json(raw))


def parse_service(raw: Any, where: str) -> Service:
    """One service of a table, as the proxy routes it."""
    return _routed(Service.from_json(raw, where))


def routing_order(state: ClusterState) -> ClusterState:
    services = sorted((_routed(s) for s in state.services), key=lambda s: (s.namespace, s.name))
    return state._replace(services=tuple(services))


def _routed(service: Service) -> Service:
    if service.type == "ExternalName":
        return service._replace(
            cluster_ip=None,
            ports=(),
            session_affinity=None,
            affinity_timeout=0,
            load_balancer_ip=None,
            endpoints=(),
        )
    endpoints = sorted(set(service.endpoints), key=lambda e: (_ip_key(e.ip), e.pod))
    return service._replace(external_name=None, endpoints=tuple(endpoints))


def _ip_key(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


def previously_routed(status_path: Optional[str]) -> List[str]:
    """`ready_endpoints` of the status file the previous proxy process left (none: [])."""
    try:
        with open(status_path or "", encoding="utf-8") as f:
            ready = json.load(f).get("ready_endpoints")
    except (OSError, ValueError, AttributeError):
        return []
    return [str(e) for e in ready] if isinstance(ready, list) else []
