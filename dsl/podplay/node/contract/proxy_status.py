"""The proxy's status file, `/run/podplay/proxy.json`, and its endpoint keys.

The proxy writes it after every iptables sync; `rollout step` reads it on the node and
`podplay up` over SSH, to know which endpoints this node routes to now. An endpoint is keyed
`namespace/pod@ip` (`endpoint_key`): the planner builds the keys the rollout waits for with
the same function the proxy spells its `ready_endpoints` with.

    {"node": "node1", "cluster_sha256": "<sha of the cluster.json routed>", "synced": true,
     "wall_time": 1700000000.0, "services": 3,
     "ready_endpoints": ["default/web-5d9c8f7b6a-x7k2p@10.244.1.5", ...],
     "nodes": [{"node", "alive", "silent_for", "generation", "ready_pods"}, ...],
     "stats": {...}, "last_error": null}

Only `ready_endpoints` is required of a reader's document (the others describe the proxy
for people and tests). Messages start with "proxy status".
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import read_json

WHERE = "proxy status"
FIELDS = ("node", "cluster_sha256", "synced", "wall_time", "services", "ready_endpoints",
          "nodes", "stats", "last_error")  # fmt: skip


def endpoint_key(namespace: str, pod: str, ip: str) -> str:
    """An endpoint as the proxy status spells it: `namespace/pod@ip`."""
    return "%s/%s@%s" % (namespace, pod, ip)


def parse_endpoint_key(key: str) -> Tuple[str, str, str]:
    """(namespace, pod, ip) of an endpoint key `namespace/pod@ip`."""
    namespace, _, rest = key.partition("/")
    pod, _, ip = rest.rpartition("@")
    return namespace, pod, ip


def endpoint_pod(key: str) -> Tuple[str, str]:
    """(namespace, pod) of an endpoint key."""
    namespace, pod, _ = parse_endpoint_key(key)
    return namespace, pod


class ProxyStatus(NamedTuple):
    """What a node's proxy routes now (and how it is doing)."""

    ready_endpoints: FrozenSet[str]
    node: Optional[str] = None
    cluster_sha256: Optional[str] = None  # the cluster.json routed; None while not applied
    synced: bool = False
    wall_time: Optional[float] = None
    services: int = 0
    nodes: Tuple[Dict[str, Any], ...] = ()  # each node's agent as the proxy hears it
    stats: Optional[Dict[str, Any]] = None
    last_error: Optional[str] = None

    @classmethod
    def from_json(cls, doc: Any) -> ProxyStatus:
        """Validate a decoded status document; ContractError naming the field."""
        return _status(doc)

    @classmethod
    def load(cls, path: str = defaults.PROXY_STATUS_JSON) -> ProxyStatus:
        return _status(read_json(path))

    def to_json(self) -> Dict[str, Any]:
        return {
            "node": self.node,
            "cluster_sha256": self.cluster_sha256,
            "synced": self.synced,
            "wall_time": self.wall_time,
            "services": self.services,
            "ready_endpoints": sorted(self.ready_endpoints),
            "nodes": [dict(n) for n in self.nodes],
            "stats": dict(self.stats or {}),
            "last_error": self.last_error,
        }


def routed_or_none(doc: Any) -> Optional[FrozenSet[str]]:
    """The endpoints a status document says are routed; None when it is not a status."""
    try:
        return _status(doc).ready_endpoints
    except ContractError:
        return None


def _status(doc: Any) -> ProxyStatus:
    if not isinstance(doc, dict):
        raise ContractError("%s must hold a JSON object" % WHERE)
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        raise ContractError("%s has an unknown field %s" % (WHERE, unknown[0]))
    ready = doc.get("ready_endpoints")
    if not isinstance(ready, list) or not all(isinstance(e, str) for e in ready):
        raise ContractError("%s ready_endpoints must be a list of endpoint keys" % WHERE)
    nodes: List[Dict[str, Any]] = doc.get("nodes", [])
    nodes = [] if nodes is None else nodes
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise ContractError("%s nodes must be a list of objects" % WHERE)
    stats = doc.get("stats")
    if stats is not None and not isinstance(stats, dict):
        raise ContractError("%s stats must be an object" % WHERE)
    return ProxyStatus(
        ready_endpoints=frozenset(ready),
        node=_optional(doc, "node", str),
        cluster_sha256=_optional(doc, "cluster_sha256", str),
        synced=_synced(doc.get("synced", False)),
        wall_time=_optional(doc, "wall_time", (int, float)),
        services=_optional(doc, "services", int) or 0,
        nodes=tuple(nodes),
        stats=stats,
        last_error=_optional(doc, "last_error", str),
    )


def _synced(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ContractError("%s synced must be true or false" % WHERE)
    return value


def _optional(doc: Dict[str, Any], name: str, kind: Any) -> Any:
    value = doc.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        raise ContractError("%s %s must be %s or null" % (WHERE, name, _kind_name(kind)))
    return value


def _kind_name(kind: Any) -> str:
    return {str: "a string", int: "an integer"}.get(kind, "a number")
