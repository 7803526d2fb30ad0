"""The cluster as the proxy sees it: cluster.json and agent.json parsed into plain values.

Parsing is strict about shape (a bad file is reported with the field that is wrong, and the
proxy keeps routing from the last good file: fail static) and lenient about what it does not
use. Everything here is immutable and hashable so the renderer stays a pure function.
"""

from __future__ import annotations

import ipaddress
from typing import Any, NamedTuple, Optional, Tuple

PROTOCOLS = ("TCP", "UDP", "SCTP")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
DEFAULT_AFFINITY_TIMEOUT = 10800


class StateError(ValueError):
    """cluster.json or agent.json does not have the shape the node README promises."""


class Endpoint(NamedTuple):
    """A planned pod behind a service; whether it is ready is learned live from its node."""

    node: str
    namespace: str
    pod: str
    ip: str


class ServicePort(NamedTuple):
    name: Optional[str]
    port: int
    target_port: int
    node_port: Optional[int]
    protocol: str  # TCP | UDP | SCTP


class Service(NamedTuple):
    name: str
    namespace: str
    type: str
    cluster_ip: Optional[str]  # None: ExternalName, or headless
    ports: Tuple[ServicePort, ...]
    session_affinity: bool  # ClientIP
    affinity_timeout: int
    load_balancer_ip: Optional[str]
    external_name: Optional[str]
    endpoints: Tuple[Endpoint, ...]

    @property
    def key(self) -> str:
        return "%s/%s" % (self.namespace, self.name)


class NodeInfo(NamedTuple):
    name: str
    address: str
    pod_cidr: str
    api_port: int


class ClusterState(NamedTuple):
    cluster: str
    pod_cidr: str
    service_cidr: str
    dns_ip: str
    cluster_domain: str
    nodes: Tuple[NodeInfo, ...]
    services: Tuple[Service, ...]

    def node(self, name: str) -> Optional[NodeInfo]:
        for node in self.nodes:
            if node.name == name:
                return node
        return None


class LocalNode(NamedTuple):
    """This node, from agent.json."""

    name: str
    address: str
    pod_cidr: str
    cluster: str
    api_port: int
    token_file: str
    cluster_file: str
    dns_ip: str
    cluster_domain: str

    @property
    def gateway(self) -> str:
        """The pod bridge's address (.1 of the pod CIDR): where the node-local DNS listens."""
        net = ipaddress.ip_network(self.pod_cidr, strict=False)
        return str(net.network_address + 1)


def _get(obj: Any, key: str, where: str, kind: Any, optional: bool = False) -> Any:
    if not isinstance(obj, dict):
        raise StateError("%s must be an object" % where)
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise StateError("%s.%s is missing" % (where, key))
    if kind is int and isinstance(value, bool):
        raise StateError("%s.%s must be an integer, not %r" % (where, key, value))
    if not isinstance(value, kind):
        raise StateError("%s.%s must be %s, not %r" % (where, key, _kind_name(kind), value))
    return value


def _kind_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "an object"}
    return names.get(kind, getattr(kind, "__name__", str(kind)))


def _ip(value: str, where: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise StateError("%s must be an IPv4 address, not %r" % (where, value)) from None


def _cidr(value: str, where: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value, strict=False))
    except ValueError:
        raise StateError("%s must be an IPv4 CIDR, not %r" % (where, value)) from None


def _port_number(value: Any, where: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise StateError("%s must be a port number 1-65535, not %r" % (where, value))
    return value


def parse_port(raw: Any, where: str) -> ServicePort:
    protocol = (_get(raw, "protocol", where, str, optional=True) or "TCP").upper()
    if protocol not in PROTOCOLS:
        raise StateError("%s.protocol must be one of %s" % (where, ", ".join(PROTOCOLS)))
    port = _port_number(raw.get("port"), where + ".port")
    target = raw.get("target_port")
    target_port = port if target is None else _port_number(target, where + ".target_port")
    node_port = raw.get("node_port")
    if node_port is not None:
        node_port = _port_number(node_port, where + ".node_port")
    return ServicePort(raw.get("name"), port, target_port, node_port, protocol)


def parse_service(raw: Any, where: str) -> Service:
    name = _get(raw, "name", where, str)
    namespace = _get(raw, "namespace", where, str, optional=True) or "default"
    where = "service %s/%s" % (namespace, name)
    kind = _get(raw, "type", where, str, optional=True) or "ClusterIP"
    if kind not in SERVICE_TYPES:
        raise StateError("%s.type must be one of %s" % (where, ", ".join(SERVICE_TYPES)))
    external_name = _get(raw, "external_name", where, str, optional=True)
    if kind == "ExternalName":
        if not external_name:
            raise StateError("%s.external_name is missing" % where)
        return Service(name, namespace, kind, None, (), False, 0, None, external_name, ())
    cluster_ip = _get(raw, "cluster_ip", where, str, optional=True)
    if cluster_ip is not None and cluster_ip != "None":
        cluster_ip = _ip(cluster_ip, where + ".cluster_ip")
    else:
        cluster_ip = None
    ports = tuple(
        parse_port(p, "%s.ports[%d]" % (where, i))
        for i, p in enumerate(_get(raw, "ports", where, list, optional=True) or [])
    )
    affinity = _get(raw, "session_affinity", where, str, optional=True)
    if affinity not in (None, "None", "ClientIP"):
        raise StateError("%s.session_affinity must be ClientIP or null" % where)
    timeout = _get(raw, "affinity_timeout", where, int, optional=True)
    lb_ip = _get(raw, "load_balancer_ip", where, str, optional=True)
    if lb_ip is not None:
        lb_ip = _ip(lb_ip, where + ".load_balancer_ip")
    endpoints = []
    for i, ep in enumerate(_get(raw, "endpoints", where, list, optional=True) or []):
        ewhere = "%s.endpoints[%d]" % (where, i)
        endpoints.append(
            Endpoint(
                node=_get(ep, "node", ewhere, str),
                namespace=_get(ep, "namespace", ewhere, str, optional=True) or namespace,
                pod=_get(ep, "pod", ewhere, str),
                ip=_ip(_get(ep, "ip", ewhere, str), ewhere + ".ip"),
            )
        )
    return Service(
        name=name,
        namespace=namespace,
        type=kind,
        cluster_ip=cluster_ip,
        ports=ports,
        session_affinity=affinity == "ClientIP",
        affinity_timeout=timeout or DEFAULT_AFFINITY_TIMEOUT,
        load_balancer_ip=lb_ip,
        external_name=None,
        endpoints=tuple(sorted(set(endpoints), key=lambda e: (_ip_key(e.ip), e.pod))),
    )


def _ip_key(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


def parse_cluster(raw: Any) -> ClusterState:
    """cluster.json (already decoded) -> ClusterState; StateError names the bad field."""
    where = "cluster.json"
    nodes = []
    for i, n in enumerate(_get(raw, "nodes", where, list, optional=True) or []):
        nwhere = "cluster.json nodes[%d]" % i
        nodes.append(
            NodeInfo(
                name=_get(n, "name", nwhere, str),
                address=_ip(_get(n, "address", nwhere, str), nwhere + ".address"),
                pod_cidr=_cidr(_get(n, "pod_cidr", nwhere, str), nwhere + ".pod_cidr"),
                api_port=_get(n, "api_port", nwhere, int, optional=True) or 10250,
            )
        )
    services = [
        parse_service(s, "cluster.json services[%d]" % i)
        for i, s in enumerate(_get(raw, "services", where, list, optional=True) or [])
    ]
    return ClusterState(
        cluster=_get(raw, "cluster", where, str, optional=True) or "",
        pod_cidr=_cidr(_get(raw, "pod_cidr", where, str, optional=True) or "10.244.0.0/16", where),
        service_cidr=_cidr(
            _get(raw, "service_cidr", where, str, optional=True) or "10.96.0.0/16", where
        ),
        dns_ip=_ip(_get(raw, "dns_ip", where, str, optional=True) or "10.96.0.10", where),
        cluster_domain=(
            _get(raw, "cluster_domain", where, str, optional=True) or "cluster.local"
        ).strip("."),
        nodes=tuple(nodes),
        services=tuple(sorted(services, key=lambda s: (s.namespace, s.name))),
    )


def parse_agent_config(raw: Any) -> LocalNode:
    """agent.json (already decoded) -> LocalNode."""
    where = "agent.json"
    return LocalNode(
        name=_get(raw, "node", where, str),
        address=_ip(_get(raw, "address", where, str), where + ".address"),
        pod_cidr=_cidr(_get(raw, "pod_cidr", where, str), where + ".pod_cidr"),
        cluster=_get(raw, "cluster", where, str, optional=True) or "",
        api_port=_get(raw, "api_port", where, int, optional=True) or 10250,
        token_file=_get(raw, "token_file", where, str, optional=True) or "/etc/podplay/token",
        cluster_file=(
            _get(raw, "cluster_file", where, str, optional=True) or "/etc/podplay/cluster.json"
        ),
        dns_ip=_ip(_get(raw, "dns_ip", where, str, optional=True) or "10.96.0.10", where),
        cluster_domain=(
            _get(raw, "cluster_domain", where, str, optional=True) or "cluster.local"
        ).strip("."),
    )
