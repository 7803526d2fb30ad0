"""What a node waits for during one step of a rolling update (`rollout step`'s `wait`).

The renderer writes it (one per rollout stage, the same for every node) into the rollout
playbook; the bundle's `rollout step` reads it with `WaitSpec.from_json` and polls this
node's agent and proxy until it holds here. Every node waiting for its own part, and Ansible
moving on only once every node is done, is the same condition `podplay up` checked from the
controller: new pods ready where planned and routed on every Ready node before an old one
leaves routing; old endpoints gone from every node's routing before their pods stop; a
`Recreate` deployment's old pods stopped everywhere before new ones start.

    {"ready": [{"namespace", "name", "node", "ip"}],   pods that must run ready (on their node)
     "routed": ["ns/pod@ip"],     endpoints every Ready node's proxy must route
     "unrouted": ["ns/pod@ip"],   endpoints no Ready node's proxy may route (drain first)
     "stopped": ["ns/pod"],       pods no agent may still report (Recreate)
     "routing_nodes": ["node1"],  the nodes whose routing counts (Ready ones)
     "timeout": 300, "drain_timeout": 20, "settle": 1}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from podplay.node.contract.errors import ContractError

WHERE = "rollout wait"
TIMEOUT = 300.0  # new pods ready and routed, old ones stopped: then the step fails
DRAIN_TIMEOUT = 20.0  # endpoints still routed after this: a warning, the step goes on
DRAIN_SETTLE = 1.0  # requests already in flight to a drained pod finish before it stops
_FIELDS = ("ready", "routed", "unrouted", "stopped", "routing_nodes", "timeout",
           "drain_timeout", "settle")  # fmt: skip
_POD_FIELDS = ("namespace", "name", "node", "ip")


def pod_key(namespace: str, name: str) -> str:
    """A pod as `stopped` names it: `namespace/name`."""
    return "%s/%s" % (namespace, name)


def parse_pod_key(key: str) -> Tuple[str, str]:
    """(namespace, name) of a `namespace/name` pod key."""
    namespace, _, name = key.partition("/")
    return namespace, name


@dataclass(frozen=True)
class PodRef:
    """A planned pod: where it runs and with which IP."""

    namespace: str
    name: str
    node: str
    ip: str

    def to_json(self) -> Dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "node": self.node, "ip": self.ip}


@dataclass(frozen=True)
class WaitSpec:
    """One rollout step's condition, as each node checks its own part of it."""

    ready: Tuple[PodRef, ...] = ()
    routed: Tuple[str, ...] = ()
    unrouted: Tuple[str, ...] = ()
    stopped: Tuple[str, ...] = ()
    routing_nodes: Tuple[str, ...] = ()
    timeout: float = TIMEOUT
    drain_timeout: float = DRAIN_TIMEOUT
    settle: float = DRAIN_SETTLE

    @property
    def empty(self) -> bool:
        return not (self.ready or self.routed or self.unrouted or self.stopped)

    def to_json(self) -> Dict[str, Any]:
        return {
            "ready": [p.to_json() for p in self.ready],
            "routed": list(self.routed),
            "unrouted": list(self.unrouted),
            "stopped": list(self.stopped),
            "routing_nodes": list(self.routing_nodes),
            "timeout": self.timeout,
            "drain_timeout": self.drain_timeout,
            "settle": self.settle,
        }

    @classmethod
    def from_json(cls, doc: Any) -> WaitSpec:
        """Validate a wait document; ContractError naming the field."""
        if not isinstance(doc, dict):
            raise ContractError("%s: expected an object, got %r" % (WHERE, doc))
        unknown = sorted(set(doc) - set(_FIELDS))
        if unknown:
            raise ContractError("%s: unknown field %s" % (WHERE, unknown[0]))
        ready = [_pod(p, "%s.ready[%d]" % (WHERE, i)) for i, p in enumerate(_list(doc, "ready"))]
        return cls(
            ready=tuple(ready),
            routed=tuple(_strings(doc, "routed")),
            unrouted=tuple(_strings(doc, "unrouted")),
            stopped=tuple(_strings(doc, "stopped")),
            routing_nodes=tuple(_strings(doc, "routing_nodes")),
            timeout=_seconds(doc, "timeout", TIMEOUT),
            drain_timeout=_seconds(doc, "drain_timeout", DRAIN_TIMEOUT),
            settle=_seconds(doc, "settle", DRAIN_SETTLE),
        )


def _list(doc: Dict[str, Any], field: str) -> List[Any]:
    value = doc.get(field, [])
    if not isinstance(value, list):
        raise ContractError("%s.%s: expected a list, got %r" % (WHERE, field, value))
    return value


def _strings(doc: Dict[str, Any], field: str) -> List[str]:
    values = _list(doc, field)
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v:
            raise ContractError("%s.%s[%d]: a non-empty string is required" % (WHERE, field, i))
    return values


def _pod(raw: Any, where: str) -> PodRef:
    if not isinstance(raw, dict) or sorted(raw) != sorted(_POD_FIELDS):
        raise ContractError("%s: expected {namespace, name, node, ip}, got %r" % (where, raw))
    for f in _POD_FIELDS:
        if not isinstance(raw[f], str) or not raw[f]:
            raise ContractError("%s.%s: a non-empty string is required" % (where, f))
    return PodRef(raw["namespace"], raw["name"], raw["node"], raw["ip"])


def _seconds(doc: Dict[str, Any], field: str, default: float) -> float:
    value = doc.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ContractError("%s.%s: a number of seconds >= 0 is required" % (WHERE, field))
    return float(value)
