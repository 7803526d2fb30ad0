"""cluster.json, `/etc/podplay/cluster.json`: the cluster's nodes and service table.

Written on every node by `files apply proxy` from the controller's `podplay_services` (which
the renderer produces through `Service.to_json`), read by the proxy (routing and cluster DNS).
Records are immutable and hashable; `from_json` keeps the document's order (the proxy sorts
what it routes, see node/proxy/state.py) and is strict about shape, lenient about fields it
does not know. Messages name the field: "service default/web: ports[0].target_port: expected
a port number 1-65535, got 70000".
"""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Tuple

from podplay.node.contract import defaults, fields
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
        """One port of a service; `where` is its path ("service default/web: ports[0]")."""
        fields.only(fields.document(raw, where, "an object"), PORT_FIELDS, where, ".")
        protocol = (fields.optional(raw, "protocol", where, str, ".") or "TCP").upper()
        fields.one_of(protocol, PROTOCOLS, where + ".protocol")
        port = _port_number(raw.get("port"), where + ".port")
        target = raw.get("target_port")
        target_port = port if target is None else _port_number(target, where + ".target_port")
        node_port = raw.get("node_port")
        if node_port is not None:
            node_port = _port_number(node_port, where + ".node_port")
        name = fields.optional(raw, "name", where, str, ".")
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


# -- reading: "<where>: <field>: <what is allowed>" (contract/fields.py) --------------------


def _port_number(value: Any, where: str) -> int:
    """A port; digits in a string are taken as the number (a YAML-written table)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return fields.port(value, where)


def _service(raw: Any, where: str) -> Service:
    sep = fields.sep_after(where)  # "cluster.json: services[0]" + ".name"
    name = fields.string(fields.document(raw, where, "an object"), "name", where, sep)
    namespace = fields.optional(raw, "namespace", where, str, sep) or "default"
    where = "service %s/%s" % (namespace, name)
    fields.only(raw, SERVICE_FIELDS, where)
    kind = fields.optional(raw, "type", where, str) or "ClusterIP"
    fields.one_of(kind, SERVICE_TYPES, where + ": type")
    external_name = fields.optional(raw, "external_name", where, str)
    if kind == "ExternalName" and not external_name:
        raise ContractError("%s: external_name: missing (an ExternalName needs one)" % where)
    cluster_ip = fields.optional(raw, "cluster_ip", where, str)
    cluster_ip = (
        None if cluster_ip in (None, "None") else fields.ipv4(cluster_ip, where + ": cluster_ip")
    )
    ports = tuple(
        ServicePort.from_json(p, "%s: ports[%d]" % (where, i))
        for i, p in enumerate(fields.optional(raw, "ports", where, list) or [])
    )
    affinity = fields.optional(raw, "session_affinity", where, str)
    if affinity not in (None, "None", "ClientIP"):
        raise ContractError(
            "%s: session_affinity: expected ClientIP or null, got %r" % (where, affinity)
        )
    lb_ip = fields.optional(raw, "load_balancer_ip", where, str)
    return Service(
        name=name,
        namespace=namespace,
        type=kind,
        cluster_ip=cluster_ip,
        ports=ports,
        session_affinity="ClientIP" if affinity == "ClientIP" else None,
        affinity_timeout=(
            fields.optional(raw, "affinity_timeout", where, int) or defaults.AFFINITY_TIMEOUT
        ),
        load_balancer_ip=None
        if lb_ip is None
        else fields.ipv4(lb_ip, where + ": load_balancer_ip"),
        external_name=external_name,
        endpoints=_endpoints(raw, namespace, where),
        selector=_selector(raw, where),
    )


def _endpoints(raw: Dict[str, Any], namespace: str, where: str) -> Tuple[Endpoint, ...]:
    endpoints = []
    for i, ep in enumerate(fields.optional(raw, "endpoints", where, list) or []):
        at = "%s: endpoints[%d]" % (where, i)
        fields.only(fields.document(ep, at, "an object"), ENDPOINT_FIELDS, at, ".")
        endpoints.append(
            Endpoint(
                node=fields.string(ep, "node", at, "."),
                namespace=fields.optional(ep, "namespace", at, str, ".") or namespace,
                pod=fields.string(ep, "pod", at, "."),
                ip=fields.ipv4(fields.string(ep, "ip", at, "."), at + ".ip"),
            )
        )
    return tuple(endpoints)


def _selector(raw: Dict[str, Any], where: str) -> Optional[Tuple[Tuple[str, str], ...]]:
    if raw.get("selector") is None:
        return None
    return tuple(fields.string_map(raw, "selector", where).items())


def _node(raw: Any, where: str) -> NodeInfo:
    fields.only(fields.document(raw, where, "an object"), NODE_FIELDS, where, ".")
    return NodeInfo(
        name=fields.string(raw, "name", where, "."),
        address=fields.ipv4(fields.string(raw, "address", where, "."), where + ".address"),
        pod_cidr=fields.ipv4_cidr(fields.string(raw, "pod_cidr", where, "."), where + ".pod_cidr"),
        api_port=fields.optional(raw, "api_port", where, int, ".") or defaults.AGENT_API_PORT,
    )


def _node_port_range(raw: Dict[str, Any], where: str) -> Tuple[int, int]:
    value = fields.optional(raw, "node_port_range", where, list)
    if value is None:
        return defaults.NODE_PORT_RANGE
    wrong = "%s: node_port_range: expected [first, last], got %r" % (where, value)
    if len(value) != 2:
        raise ContractError(wrong)
    first, last = (_port_number(v, where + ": node_port_range") for v in value)
    if first > last:
        raise ContractError(wrong)
    return (first, last)


def _cluster(raw: Any) -> ClusterState:
    where = "cluster.json"
    fields.document(raw, where)
    if raw.get("apiVersion", defaults.API_VERSION) != defaults.API_VERSION or (
        raw.get("kind", KIND) != KIND
    ):
        raise ContractError(
            "%s: apiVersion/kind: expected %s %s, got %s %s"
            % (where, defaults.API_VERSION, KIND, raw.get("apiVersion"), raw.get("kind"))
        )
    fields.only(raw, STATE_FIELDS, where)
    nodes = tuple(
        _node(n, "%s: nodes[%d]" % (where, i))
        for i, n in enumerate(fields.optional(raw, "nodes", where, list) or [])
    )
    services = tuple(
        Service.from_json(s, "%s: services[%d]" % (where, i))
        for i, s in enumerate(fields.optional(raw, "services", where, list) or [])
    )
    return ClusterState(
        cluster=fields.optional(raw, "cluster", where, str) or "",
        pod_cidr=fields.ipv4_cidr(_text(raw, "pod_cidr", defaults.POD_CIDR), where + ": pod_cidr"),
        service_cidr=fields.ipv4_cidr(
            _text(raw, "service_cidr", defaults.SERVICE_CIDR), where + ": service_cidr"
        ),
        dns_ip=fields.ipv4(_text(raw, "dns_ip", defaults.DNS_IP), where + ": dns_ip"),
        cluster_domain=_text(raw, "cluster_domain", defaults.CLUSTER_DOMAIN).strip("."),
        nodes=nodes,
        services=services,
        node_port_range=_node_port_range(raw, where),
    )


def _text(raw: Dict[str, Any], field: str, default: str) -> str:
    return fields.optional(raw, field, "cluster.json", str) or default
