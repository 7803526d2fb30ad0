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


STRINGS = "an object of strings"  # a schema type: labels, selectors


class _Record:
    """Text in and out, the same for every record: a record declares its fields' types and
    defaults once (`_schema`, in field order: (type, default), `...` for required; the type
    is str, int, bool, fields.NUMBER, read as a float, or STRINGS) and reads through it."""

    _where = "record"  # what messages call it when no key is given
    _schema: Tuple[Tuple[Any, Any], ...] = ()

    def to_json(self) -> Dict[str, Any]:
        items = self._asdict().items()  # type: ignore[attr-defined]
        return {k: dict(v) if isinstance(v, dict) else v for k, v in items}

    def to_text(self) -> str:
        return canonical_text(self.to_json())

    @classmethod
    def from_json(cls, doc: Any, where: Optional[str] = None) -> Any:
        at = where or cls._where
        d = _doc(doc, cls._fields, at)  # type: ignore[attr-defined]
        names = cls._fields  # type: ignore[attr-defined]
        values = [_value(d, name, *cls._schema[i], at) for i, name in enumerate(names)]
        return cls._checked(cls(*values), at)  # type: ignore[call-arg]

    @classmethod
    def _checked(cls, record: Any, where: str) -> Any:
        """What a record checks across its fields, once they read."""
        return record

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Any:
        return cls.from_json(decode(data, where), where)


def _value(doc: Dict[str, Any], field: str, typ: Any, default: Any, where: str) -> Any:
    if typ is STRINGS:
        return _strings(doc, field, where)
    value = _get(doc, field, typ, where, default)
    return float(value) if typ is fields.NUMBER and value is not None else value


class NodeLease(_Record, NamedTuple("NodeLease", [("node", str), ("address", str),
                                                   ("boot_id", str), ("started", float),
                                                   ("version", str)])):  # fmt: skip
    """Held under `nodes/<node>` with the agent's lease: present while the agent lives."""

    _where = "node lease"
    _schema = ((str, ...), (str, ...), (str, ""), (fields.NUMBER, 0.0), (str, ""))


class Leader(_Record, NamedTuple("Leader", [("node", str), ("since", float), ("pid", int)])):
    """Held under `leader` with the leading controller's lease."""

    _where = "leader"
    _schema = ((str, ...), (fields.NUMBER, 0.0), (int, 0))


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

    _where = "node spec"
    _schema = ((str, ...), (str, ...), (str, ...), (STRINGS, None), (int, None), (int, None),
               (int, defaults.MAX_PODS), (str, None), (bool, False))  # fmt: skip


class Cursor(_Record, NamedTuple("Cursor", [("last_pod_ip", str), ("base", Optional[str])])):
    """`cursors/<node>`: the last pod IP the controller handed out on a node, and the plan's
    cursor (`NodeSpec.last_pod_ip`) it continued from; `up` keeps whichever is later."""

    _where = "cursor"
    _schema = ((str, ...), (str, None))


_TableFields = NamedTuple(
    "_TableFields",
    [("generation", int), ("plan_sha", str), ("node_grace", float), ("written_at", float)],
)


class Table(_Record, _TableFields):
    """`table`: the binding table is complete as of this generation (agents trust the store
    over their manifest files only once it exists)."""

    _where = "table"
    _schema = ((int, ...), (str, ""), (fields.NUMBER, ...), (fields.NUMBER, 0.0))

    @classmethod
    def _checked(cls, record: Table, where: str) -> Table:
        fields.above_zero(record.node_grace, fields.child(where, "node_grace"))
        return record


class NodeStatus(_Record, NamedTuple("NodeStatus", [("node", str), ("ready", bool),
                                                     ("since", float), ("reason", str),
                                                     ("message", str)])):  # fmt: skip
    """`status/<node>`: the leading controller's view of a node (NotReady since when)."""

    _where = "node status"
    _schema = ((str, ...), (bool, ...), (fields.NUMBER, ...), (str, ""), (str, ""))


class Event(_Record, NamedTuple("Event", [
    ("time", float), ("type", str), ("reason", str), ("message", str), ("kind", str),
    ("namespace", str), ("name", str), ("node", str), ("source", str),
])):  # fmt: skip
    """`events/<ms>-<id>`: one event about a Pod, Deployment or Node (as kubectl shows them)."""

    _where = "event"
    _schema = ((fields.NUMBER, ...), (str, ...), (str, ...), (str, ""), (str, ...), (str, ""),
               (str, ...), (str, ""), (str, ""))  # fmt: skip

    @classmethod
    def _checked(cls, record: Event, where: str) -> Event:
        fields.one_of(record.type, EVENT_TYPES, fields.child(where, "type"))
        return record


def _opt_float(doc: Dict[str, Any], field: str, where: str) -> Optional[float]:
    value = _get(doc, field, fields.NUMBER, where, None)
    return None if value is None else float(value)
