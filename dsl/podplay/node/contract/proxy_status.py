"""The proxy's status file, `/run/podplay/proxy.json`, and its endpoint keys.

The proxy writes it after every iptables sync; `rollout step` reads it on the node and
`podplay up` over SSH, to know which endpoints this node routes to now. An endpoint is keyed
`namespace/pod@ip` (`endpoint_key`): the planner builds the keys the rollout waits for with
the same function the proxy spells its `ready_endpoints` with. Whether endpoints are routed
on every node (`not_routed`: a new pod may take traffic) or on none (`still_routed`: an old
pod may stop) is decided here once, for `podplay up`'s wait over every node's status and
`rollout step`'s wait over its own node's.

    {"node": "node1", "cluster_sha256": "<sha of the cluster.json routed>", "synced": true,
     "wall_time": 1700000000.0, "services": 3,
     "ready_endpoints": ["default/web-5d9c8f7b6a-x7k2p@10.244.1.5", ...],
     "nodes": [{"node", "alive", "silent_for", "generation", "ready_pods"}, ...],
     "stats": {...}, "last_error": null}

Only `ready_endpoints` is required of a reader's document (the others describe the proxy
for people and tests). Messages start with "proxy status: " and name the field.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from podplay.node.contract import defaults, fields
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


def not_routed(
    endpoints: Iterable[str], nodes: Iterable[str], proxies: Mapping[str, Any]
) -> Dict[str, List[str]]:
    """Per node of `nodes`, the `endpoints` its proxy does not route yet, in the order given
    (every one where its status, `proxies[node]`, cannot be read); a node that routes them
    all is left out. Empty: routed everywhere (a new pod may take traffic)."""
    wanted = list(endpoints)
    out: Dict[str, List[str]] = {}
    for node in nodes:
        now = routed_or_none(proxies.get(node))
        missing = wanted if now is None else [e for e in wanted if e not in now]
        if missing:
            out[node] = list(missing)
    return out


def still_routed(
    endpoints: Iterable[str], nodes: Iterable[str], proxies: Mapping[str, Any]
) -> Dict[str, List[str]]:
    """Per node of `nodes`, the `endpoints` its proxy still routes, sorted (every one where
    its status cannot be read: it cannot say it does not); a node that routes none of them
    is left out. Empty: drained everywhere (an old pod may stop)."""
    wanted = set(endpoints)
    out: Dict[str, List[str]] = {}
    for node in nodes:
        now = routed_or_none(proxies.get(node))
        left = sorted(wanted if now is None else wanted & now)
        if left:
            out[node] = left
    return out


def _status(doc: Any) -> ProxyStatus:
    fields.only(fields.document(doc, WHERE), FIELDS, WHERE)
    ready = doc.get("ready_endpoints")
    if not isinstance(ready, list) or not all(isinstance(e, str) for e in ready):
        raise ContractError(
            "%s: ready_endpoints: expected a list of endpoint keys, got %r" % (WHERE, ready)
        )
    nodes: List[Dict[str, Any]] = fields.optional(doc, "nodes", WHERE, list) or []
    if not all(isinstance(n, dict) for n in nodes):
        raise ContractError("%s: nodes: expected a list of objects, got %r" % (WHERE, nodes))
    return ProxyStatus(
        ready_endpoints=frozenset(ready),
        node=fields.optional(doc, "node", WHERE, str),
        cluster_sha256=fields.optional(doc, "cluster_sha256", WHERE, str),
        synced=bool(fields.optional(doc, "synced", WHERE, bool)),
        wall_time=fields.optional(doc, "wall_time", WHERE, fields.NUMBER),
        services=fields.optional(doc, "services", WHERE, int) or 0,
        nodes=tuple(nodes),
        stats=fields.optional(doc, "stats", WHERE, dict),
        last_error=fields.optional(doc, "last_error", WHERE, str),
    )
