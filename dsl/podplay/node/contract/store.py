"""The values kept in the cluster's store (etcd): one record type per key kind.

Keys are built and parsed by `podplay.node.store.keys`; what each key holds is defined here,
once, for every writer and reader: the agents (node leases), the controller (leadership,
moves, node status, events), Ansible's table write (`store apply-table`) and `podplay` on
the machine that runs it (`up` reads the moves, `get`/`describe` the status and events).

    nodes/<node>            NodeLease    an agent is alive (attached to its lease)
    leader                  Leader       the controller that acts (attached to its lease)
    bindings/<ns>/<pod>     Binding      where a pod runs: the plan's choice or a move
    nodespecs/<node>        NodeSpec     what placement needs to know of a node
    cursors/<node>          Cursor       the controller's pod-IP cursor on a node
    table                   Table        the binding table is complete (generation)
    status/<node>           NodeStatus   Ready/NotReady and since when (the leader's view)
    events/<ms>-<id>        Event        what happened, for describe

Every record reads strictly (unknown fields refused: a field renamed on one side only is
caught where it is read) and writes canonical JSON text (`to_text`).
"""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Tuple

from podplay.node.contract import defaults, fields
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text, decode
from podplay.node.contract.pods import PodSpec

PLACED_BY_PLAN = "plan"
PLACED_BY_CONTROLLER = "controller"
EVENT_TYPES = ("Normal", "Warning")


def _doc(doc: Any, known: Tuple[str, ...], where: str) -> Dict[str, Any]:
    fields.only(fields.document(doc, where), known, where, fields.sep_after(where))
    return doc


def _get(doc: Dict[str, Any], field: str, kinds: Any, where: str, default: Any = ...) -> Any:
    """A field of type `kinds` (str, int, bool, dict or fields.NUMBER); required unless a
    default is given."""
    if default is ...:
        return fields.required(doc, field, where, kinds, fields.sep_after(where))
    value = fields.optional(doc, field, where, kinds, fields.sep_after(where))
    return default if value is None else value


def _strings(doc: Dict[str, Any], field: str, where: str) -> Dict[str, str]:
    return fields.string_map(doc, field, where, fields.sep_after(where))


class _Record:
    """Text in and out, the same for every record."""

    def to_json(self) -> Dict[str, Any]:  # pragma: no cover - every record defines it
        raise NotImplementedError

    def to_text(self) -> str:
        return canonical_text(self.to_json())

    @classmethod
    def from_json(cls, doc: Any, where: str = "") -> Any:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Any:
        return cls.from_json(decode(data, where), where)


class NodeLease(_Record, NamedTuple("NodeLease", [("node", str), ("address", str),
                                                   ("boot_id", str), ("started", float),
                                                   ("version", str)])):  # fmt: skip
    """Held under `nodes/<node>` with the agent's lease: present while the agent lives."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "node lease") -> NodeLease:
        d = _doc(doc, cls._fields, where)
        return cls(
            _get(d, "node", str, where),
            _get(d, "address", str, where),
            _get(d, "boot_id", str, where, ""),
            float(_get(d, "started", fields.NUMBER, where, 0.0)),
            _get(d, "version", str, where, ""),
        )

    def to_json(self) -> Dict[str, Any]:
        return dict(self._asdict())


class Leader(_Record, NamedTuple("Leader", [("node", str), ("since", float), ("pid", int)])):
    """Held under `leader` with the leading controller's lease."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "leader") -> Leader:
        d = _doc(doc, cls._fields, where)
        return cls(
            _get(d, "node", str, where),
            float(_get(d, "since", fields.NUMBER, where, 0.0)),
            _get(d, "pid", int, where, 0),
        )

    def to_json(self) -> Dict[str, Any]:
        return dict(self._asdict())


class Requests(NamedTuple):
    """What one pod asks of its node, summed over its containers (placement's view)."""

    cpu_millis: int = 0
    memory_bytes: int = 0

    def to_json(self) -> Dict[str, Any]:
        return {"cpu_millis": self.cpu_millis, "memory_bytes": self.memory_bytes}


class Binding(_Record, NamedTuple("Binding", [
    ("namespace", str), ("name", str), ("node", str), ("ip", str), ("deployment", str),
    ("template_hash", str), ("node_selector", Dict[str, str]), ("requests", Requests),
    ("manifest", Dict[str, Any]), ("placed_by", str), ("moved_from", Optional[str]),
    ("moved_at", Optional[float]), ("reason", Optional[str]),
])):  # fmt: skip
    """`bindings/<ns>/<pod>`: the node a pod runs on, with everything needed to run it there
    (its pod manifest, whose `ip` equals `ip`) or to place it again (selector, requests).

    `placed_by` is "plan" (written from the plan by Ansible) or "controller" (moved off a
    NotReady node: `moved_from`, `moved_at`, `reason` say from where, when and why)."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "binding") -> Binding:
        d = _doc(doc, cls._fields, where)
        at_req = fields.child(where, "requests")
        req = _doc(_get(d, "requests", dict, where, {}), Requests._fields, at_req)
        placed_by = _get(d, "placed_by", str, where, PLACED_BY_PLAN)
        fields.one_of(
            placed_by, (PLACED_BY_PLAN, PLACED_BY_CONTROLLER), fields.child(where, "placed_by")
        )
        manifest = _get(d, "manifest", dict, where)
        binding = cls(
            _get(d, "namespace", str, where),
            _get(d, "name", str, where),
            _get(d, "node", str, where),
            _get(d, "ip", str, where),
            _get(d, "deployment", str, where, ""),
            _get(d, "template_hash", str, where, ""),
            _strings(d, "node_selector", where),
            Requests(
                _get(req, "cpu_millis", int, at_req, 0),
                _get(req, "memory_bytes", int, at_req, 0),
            ),
            manifest,
            placed_by,
            _get(d, "moved_from", str, where, None),
            _opt_float(d, "moved_at", where),
            _get(d, "reason", str, where, None),
        )
        if manifest.get("ip") != binding.ip or manifest.get("name") != binding.name:
            raise ContractError("%s: the manifest's name and ip must be the binding's" % where)
        return binding

    @classmethod
    def for_pod(
        cls, node: str, manifest: Any, node_selector: Dict[str, str], where: str = "pod"
    ) -> Binding:
        """The plan's binding of a pod manifest to `node`: deployment, template and requests
        (summed over its containers, as placement counts them) read from the manifest, which
        the pod contract checks first (ContractError naming the field)."""
        spec = PodSpec.from_json(manifest, where)
        owner = spec.owner
        return cls(
            spec.namespace,
            spec.name,
            node,
            spec.ip,
            owner.name if owner is not None and owner.kind == "Deployment" else "",
            spec.template_hash,
            dict(node_selector),
            Requests(
                sum(c.cpu_millis or 0 for c in spec.containers),
                sum(c.memory_bytes or 0 for c in spec.containers),
            ),
            dict(manifest),
            PLACED_BY_PLAN,
            None,
            None,
            None,
        )

    def moved_to(self, node: str, ip: str, at: float, reason: str) -> Binding:
        """The same pod (name, uid, template) re-created on `node` with `ip`, by the
        controller: the manifest's `ip` follows."""
        manifest = dict(self.manifest)
        manifest["ip"] = ip
        return self._replace(
            node=node,
            ip=ip,
            manifest=manifest,
            placed_by=PLACED_BY_CONTROLLER,
            moved_from=self.node,
            moved_at=at,
            reason=reason,
        )

    @property
    def key(self) -> Tuple[str, str]:
        return (self.namespace, self.name)

    def to_json(self) -> Dict[str, Any]:
        out = dict(self._asdict())
        out["node_selector"] = dict(self.node_selector)
        out["requests"] = self.requests.to_json()
        return out


class NodeSpec(_Record, NamedTuple("NodeSpec", [
    ("name", str), ("address", str), ("pod_cidr", str), ("labels", Dict[str, str]),
    ("cpu_millis", Optional[int]), ("memory_bytes", Optional[int]), ("max_pods", int),
    ("last_pod_ip", Optional[str]), ("control_plane", bool),
])):  # fmt: skip
    """`nodespecs/<node>`: the node as the plan describes it, for placing pods on it."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "node spec") -> NodeSpec:
        d = _doc(doc, cls._fields, where)
        return cls(
            _get(d, "name", str, where),
            _get(d, "address", str, where),
            _get(d, "pod_cidr", str, where),
            _strings(d, "labels", where),
            _get(d, "cpu_millis", int, where, None),
            _get(d, "memory_bytes", int, where, None),
            _get(d, "max_pods", int, where, defaults.MAX_PODS),
            _get(d, "last_pod_ip", str, where, None),
            _get(d, "control_plane", bool, where, False),
        )

    def to_json(self) -> Dict[str, Any]:
        out = dict(self._asdict())
        out["labels"] = dict(self.labels)
        return out


class Cursor(_Record, NamedTuple("Cursor", [("last_pod_ip", str), ("base", Optional[str])])):
    """`cursors/<node>`: the last pod IP the controller handed out on a node, and the plan's
    cursor (`NodeSpec.last_pod_ip`) it continued from; `up` keeps whichever is later."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "cursor") -> Cursor:
        d = _doc(doc, cls._fields, where)
        return cls(_get(d, "last_pod_ip", str, where), _get(d, "base", str, where, None))

    def to_json(self) -> Dict[str, Any]:
        return dict(self._asdict())


_TableFields = NamedTuple(
    "_TableFields",
    [("generation", int), ("plan_sha", str), ("node_grace", float), ("written_at", float)],
)


class Table(_Record, _TableFields):
    """`table`: the binding table is complete as of this generation (agents trust the store
    over their manifest files only once it exists)."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "table") -> Table:
        d = _doc(doc, cls._fields, where)
        grace = _get(d, "node_grace", fields.NUMBER, where)
        grace = float(fields.above_zero(grace, fields.child(where, "node_grace")))
        return cls(
            _get(d, "generation", int, where),
            _get(d, "plan_sha", str, where, ""),
            grace,
            float(_get(d, "written_at", fields.NUMBER, where, 0.0)),
        )

    def to_json(self) -> Dict[str, Any]:
        return dict(self._asdict())


class NodeStatus(_Record, NamedTuple("NodeStatus", [("node", str), ("ready", bool),
                                                     ("since", float), ("reason", str),
                                                     ("message", str)])):  # fmt: skip
    """`status/<node>`: the leading controller's view of a node (NotReady since when)."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "node status") -> NodeStatus:
        d = _doc(doc, cls._fields, where)
        return cls(
            _get(d, "node", str, where),
            _get(d, "ready", bool, where),
            float(_get(d, "since", fields.NUMBER, where)),
            _get(d, "reason", str, where, ""),
            _get(d, "message", str, where, ""),
        )

    def to_json(self) -> Dict[str, Any]:
        return dict(self._asdict())


class Event(_Record, NamedTuple("Event", [
    ("time", float), ("type", str), ("reason", str), ("message", str), ("kind", str),
    ("namespace", str), ("name", str), ("node", str), ("source", str),
])):  # fmt: skip
    """`events/<ms>-<id>`: one event about a Pod, Deployment or Node (as kubectl shows them)."""

    @classmethod
    def from_json(cls, doc: Any, where: str = "event") -> Event:
        d = _doc(doc, cls._fields, where)
        kind = fields.one_of(_get(d, "type", str, where), EVENT_TYPES, fields.child(where, "type"))
        return cls(
            float(_get(d, "time", fields.NUMBER, where)),
            kind,
            _get(d, "reason", str, where),
            _get(d, "message", str, where, ""),
            _get(d, "kind", str, where),
            _get(d, "namespace", str, where, ""),
            _get(d, "name", str, where),
            _get(d, "node", str, where, ""),
            _get(d, "source", str, where, ""),
        )

    def to_json(self) -> Dict[str, Any]:
        return dict(self._asdict())


def _opt_float(doc: Dict[str, Any], field: str, where: str) -> Optional[float]:
    value = _get(doc, field, fields.NUMBER, where, None)
    return None if value is None else float(value)
