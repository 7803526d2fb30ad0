"""cluster.json, `/etc/podplay/cluster.json`: the cluster's nodes and service table.

Written on every node by `files apply proxy` from the controller's `podplay_services` (which
the renderer produces through `Service.to_json`), read by the proxy (routing and cluster DNS).
Records are immutable and hashable; `from_json` keeps the document's order (the proxy sorts
what it routes, see node/proxy/state.py) and is strict about shape, lenient about fields it
does not know. Messages name the field: "service default/web.ports[0].target_port must be a
port number 1-65535, not 70000".
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, NamedTuple, Optional, Tuple

from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError

KIND = "ClusterState"
PROTOCOLS = ("TCP", "UDP", "SCTP")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")

# The fields of each object, in the order `to_json` writes them.
STATE_FIELDS = ("apiVersion", "kind", "cluster", "pod_cidr", "service_cidr", "dns_ip",
                "cluster_domain", "node_port_range", "nodes", "services")  # fmt: skip
NODE_FIELDS = ("name", "address", "pod_cidr", "api_port")
SERVICE_FIELDS = ("name", "namespace", "type", "cluster_ip", "selector", "ports",
                  "session_affinity", "affinity_timeout", "load_balancer_ip", "external_name",
                  "endpoints")  # fmt: skip
PORT_FIELDS = ("name", "port", "target_port", "node_port", "protocol")
ENDPOINT_FIELDS = ("pod", "namespace", "node", "ip")


class Endpoint(NamedTuple):
    """A planned pod behind a service; whether it is ready is learned live from its node."""

    node: str
    namespace: str
    pod: str
    ip: str

    def to_json(self) -> Dict[str, Any]:
        return {"pod": self.pod, "namespace": self.namespace, "node": self.node, "ip": self.ip}


class ServicePort(NamedTuple):
    name: Optional[str]
    port: int
    target_port: int
    node_port: Optional[int]
    protocol: str  # TCP | UDP | SCTP

    @classmethod
    def from_json(cls, raw: Any, where: str) -> ServicePort:
        protocol = (_get(raw, "protocol", where, str, optional=True) or "TCP").upper()
        _only(raw, PORT_FIELDS, where)
        if protocol not in PROTOCOLS:
            raise ContractError("%s.protocol must be one of %s" % (where, ", ".join(PROTOCOLS)))
        port = _port_number(raw.get("port"), where + ".port")
        target = raw.get("target_port")
        target_port = port if target is None else _port_number(target, where + ".target_port")
        node_port = raw.get("node_port")
        if node_port is not None:
            node_port = _port_number(node_port, where + ".node_port")
        name = _get(raw, "name", where, str, optional=True)
        return cls(name, port, target_port, node_port, protocol)

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "port": self.port,
            "target_port": self.target_port,
            "node_port": self.node_port,
            "protocol": self.protocol,
        }


class Service(NamedTuple):
    name: str
    namespace: str
    type: str
    cluster_ip: Optional[str]  # None: ExternalName, or headless
    ports: Tuple[ServicePort, ...]
    session_affinity: Optional[str]  # "ClientIP" or None
    affinity_timeout: int
    load_balancer_ip: Optional[str]
    external_name: Optional[str]
    endpoints: Tuple[Endpoint, ...]
    selector: Optional[Tuple[Tuple[str, str], ...]] = None  # the planner's; no node uses it

    @property
    def key(self) -> str:
        return "%s/%s" % (self.namespace, self.name)

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Service:
        """One service of the table; `where` names it until its name is known."""
        return _service(raw, where)

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "type": self.type,
            "cluster_ip": self.cluster_ip,
            "selector": None if self.selector is None else dict(self.selector),
            "ports": [p.to_json() for p in self.ports],
            "session_affinity": self.session_affinity,
            "affinity_timeout": self.affinity_timeout,
            "load_balancer_ip": self.load_balancer_ip,
            "external_name": self.external_name,
            "endpoints": [e.to_json() for e in self.endpoints],
        }


class NodeInfo(NamedTuple):
    name: str
    address: str
    pod_cidr: str
    api_port: int = defaults.AGENT_API_PORT

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "pod_cidr": self.pod_cidr,
            "api_port": self.api_port,
        }


class ClusterState(NamedTuple):
    cluster: str
    pod_cidr: str
    service_cidr: str
    dns_ip: str
    cluster_domain: str
    nodes: Tuple[NodeInfo, ...]
    services: Tuple[Service, ...]
    node_port_range: Tuple[int, int] = defaults.NODE_PORT_RANGE

    @classmethod
    def from_json(cls, raw: Any) -> ClusterState:
        """cluster.json (already decoded); ContractError names the bad field."""
        return _cluster(raw)

    def node(self, name: str) -> Optional[NodeInfo]:
        for node in self.nodes:
            if node.name == name:
                return node
        return None

    def to_json(self) -> Dict[str, Any]:
        return {
            "apiVersion": defaults.API_VERSION,
            "kind": KIND,
            "cluster": self.cluster,
            "pod_cidr": self.pod_cidr,
            "service_cidr": self.service_cidr,
            "dns_ip": self.dns_ip,
            "cluster_domain": self.cluster_domain,
            "node_port_range": list(self.node_port_range),
            "nodes": [n.to_json() for n in self.nodes],
            "services": [s.to_json() for s in self.services],
        }


# -- reading -----------------------------------------------------------------------------------


def _get(obj: Any, key: str, where: str, kind: Any, optional: bool = False) -> Any:
    if not isinstance(obj, dict):
        raise ContractError("%s must be an object" % where)
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise ContractError("%s.%s is missing" % (where, key))
    if kind is int and isinstance(value, bool):
        raise ContractError("%s.%s must be an integer, not %r" % (where, key, value))
    if not isinstance(value, kind):
        raise ContractError("%s.%s must be %s, not %r" % (where, key, _kind_name(kind), value))
    return value


def _only(obj: Any, known: Tuple[str, ...], where: str) -> None:
    """Strict about names: a field renamed on one side only is caught where it is read."""
    unknown = sorted(set(obj) - set(known)) if isinstance(obj, dict) else []
    if unknown:
        raise ContractError("%s.%s is not a field the node contract knows" % (where, unknown[0]))


def _kind_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "an object"}
    return names.get(kind, getattr(kind, "__name__", str(kind)))


def _ip(value: str, where: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ContractError("%s must be an IPv4 address, not %r" % (where, value)) from None


def _cidr(value: str, where: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value, strict=False))
    except ValueError:
        raise ContractError("%s must be an IPv4 CIDR, not %r" % (where, value)) from None


def _port_number(value: Any, where: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ContractError("%s must be a port number 1-65535, not %r" % (where, value))
    return value


def _service(raw: Any, where: str) -> Service:
    name = _get(raw, "name", where, str)
    namespace = _get(raw, "namespace", where, str, optional=True) or "default"
    where = "service %s/%s" % (namespace, name)
    _only(raw, SERVICE_FIELDS, where)
    kind = _get(raw, "type", where, str, optional=True) or "ClusterIP"
    if kind not in SERVICE_TYPES:
        raise ContractError("%s.type must be one of %s" % (where, ", ".join(SERVICE_TYPES)))
    external_name = _get(raw, "external_name", where, str, optional=True)
    if kind == "ExternalName" and not external_name:
        raise ContractError("%s.external_name is missing" % where)
    cluster_ip = _get(raw, "cluster_ip", where, str, optional=True)
    cluster_ip = None if cluster_ip in (None, "None") else _ip(cluster_ip, where + ".cluster_ip")
    ports = tuple(
        ServicePort.from_json(p, "%s.ports[%d]" % (where, i))
        for i, p in enumerate(_get(raw, "ports", where, list, optional=True) or [])
    )
    affinity = _get(raw, "session_affinity", where, str, optional=True)
    if affinity not in (None, "None", "ClientIP"):
        raise ContractError("%s.session_affinity must be ClientIP or null" % where)
    lb_ip = _get(raw, "load_balancer_ip", where, str, optional=True)
    return Service(
        name=name,
        namespace=namespace,
        type=kind,
        cluster_ip=cluster_ip,
        ports=ports,
        session_affinity="ClientIP" if affinity == "ClientIP" else None,
        affinity_timeout=(
            _get(raw, "affinity_timeout", where, int, optional=True) or defaults.AFFINITY_TIMEOUT
        ),
        load_balancer_ip=None if lb_ip is None else _ip(lb_ip, where + ".load_balancer_ip"),
        external_name=external_name,
        endpoints=_endpoints(raw, namespace, where),
        selector=_selector(raw, where),
    )


def _endpoints(raw: Dict[str, Any], namespace: str, where: str) -> Tuple[Endpoint, ...]:
    endpoints = []
    for i, ep in enumerate(_get(raw, "endpoints", where, list, optional=True) or []):
        at = "%s.endpoints[%d]" % (where, i)
        _only(ep, ENDPOINT_FIELDS, at)
        endpoints.append(
            Endpoint(
                node=_get(ep, "node", at, str),
                namespace=_get(ep, "namespace", at, str, optional=True) or namespace,
                pod=_get(ep, "pod", at, str),
                ip=_ip(_get(ep, "ip", at, str), at + ".ip"),
            )
        )
    return tuple(endpoints)


def _selector(raw: Dict[str, Any], where: str) -> Optional[Tuple[Tuple[str, str], ...]]:
    selector = _get(raw, "selector", where, dict, optional=True)
    if selector is None:
        return None
    if not all(isinstance(v, str) for v in selector.values()):
        raise ContractError("%s.selector must be an object of strings" % where)
    return tuple(selector.items())


def _node(raw: Any, where: str) -> NodeInfo:
    _only(raw, NODE_FIELDS, where)
    return NodeInfo(
        name=_get(raw, "name", where, str),
        address=_ip(_get(raw, "address", where, str), where + ".address"),
        pod_cidr=_cidr(_get(raw, "pod_cidr", where, str), where + ".pod_cidr"),
        api_port=_get(raw, "api_port", where, int, optional=True) or defaults.AGENT_API_PORT,
    )


def _node_port_range(raw: Dict[str, Any], where: str) -> Tuple[int, int]:
    value = _get(raw, "node_port_range", where, list, optional=True)
    if value is None:
        return defaults.NODE_PORT_RANGE
    if len(value) != 2:
        raise ContractError("%s.node_port_range must be [first, last], not %r" % (where, value))
    first, last = (_port_number(v, where + ".node_port_range") for v in value)
    if first > last:
        raise ContractError("%s.node_port_range must be [first, last], not %r" % (where, value))
    return (first, last)


def _cluster(raw: Any) -> ClusterState:
    where = "cluster.json"
    if not isinstance(raw, dict):
        raise ContractError("%s must be an object" % where)
    if raw.get("apiVersion", defaults.API_VERSION) != defaults.API_VERSION or (
        raw.get("kind", KIND) != KIND
    ):
        raise ContractError(
            "%s apiVersion/kind must be %s %s, not %s %s"
            % (where, defaults.API_VERSION, KIND, raw.get("apiVersion"), raw.get("kind"))
        )
    _only(raw, STATE_FIELDS, where)
    nodes = tuple(
        _node(n, "cluster.json nodes[%d]" % i)
        for i, n in enumerate(_get(raw, "nodes", where, list, optional=True) or [])
    )
    services = tuple(
        Service.from_json(s, "cluster.json services[%d]" % i)
        for i, s in enumerate(_get(raw, "services", where, list, optional=True) or [])
    )
    return ClusterState(
        cluster=_get(raw, "cluster", where, str, optional=True) or "",
        pod_cidr=_cidr(_optional_str(raw, "pod_cidr", defaults.POD_CIDR), where + ".pod_cidr"),
        service_cidr=_cidr(
            _optional_str(raw, "service_cidr", defaults.SERVICE_CIDR), where + ".service_cidr"
        ),
        dns_ip=_ip(_optional_str(raw, "dns_ip", defaults.DNS_IP), where + ".dns_ip"),
        cluster_domain=_optional_str(raw, "cluster_domain", defaults.CLUSTER_DOMAIN).strip("."),
        nodes=nodes,
        services=services,
        node_port_range=_node_port_range(raw, where),
    )


def _optional_str(raw: Dict[str, Any], key: str, default: str) -> str:
    return _get(raw, key, "cluster.json", str, optional=True) or default
