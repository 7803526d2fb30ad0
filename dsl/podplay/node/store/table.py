"""The binding table Ansible writes: which pod runs on which node, as the plan says.

`store apply-table --desired -` reads (on stdin)

    {"cluster": "shop", "node_grace": 3.0,
     "nodes": [<NodeSpec>, ...],                     # every node of the plan
     "pods": {"node1": [<pod manifest>, ...], ...},  # the pods bound to each node
     "node_selectors": {"default/web": {"disk": "ssd"}, ...}}   # per deployment

and makes the store say the same: every node spec and every binding put where it differs,
bindings and node specs of the plan's past deleted, then `table` (generation + 1) put,
last, so an agent trusts the table only once it is complete. One exception: a binding the
controller made (`placed_by: controller`) for the SAME pod template as the desired one is
kept, so a compiled project older than a move never brings a moved pod back to its dead node
(`podplay up` reads the moves before planning, so its desired binding is the moved one
anyway). Nothing differs: nothing is written (changed=false).

The comparison (`changes`) is pure; `apply_table` reads the store at one revision and writes
in transactions that fail when a binding changed since it was read (the controller moved a
pod meanwhile): then it reads again and starts over.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from podplay.node.contract import fields
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text
from podplay.node.contract.store import PLACED_BY_CONTROLLER, Binding, NodeSpec, Table

from . import keys, wire
from .client import Store, StoreError
from .wire import KeyValue

BATCH = 50  # keys per transaction (etcd allows 128 operations per transaction)
ATTEMPTS = 5


class Desired(NamedTuple):
    cluster: str
    node_grace: float
    nodes: Dict[str, NodeSpec]
    bindings: Dict[str, Binding]  # by key

    @property
    def sha(self) -> str:
        """Names the desired table: the same plan gives the same sha."""
        doc = {
            "nodes": {k: v.to_json() for k, v in self.nodes.items()},
            "bindings": {k: v.to_json() for k, v in self.bindings.items()},
            "node_grace": self.node_grace,
        }
        return hashlib.sha256(canonical_text(doc).encode()).hexdigest()


class Change(NamedTuple):
    key: str
    text: Optional[str]  # None: delete
    before: Optional[KeyValue]


DESIRED_FIELDS = ("cluster", "node_grace", "nodes", "pods", "node_selectors")


class Plan(NamedTuple):
    changes: List[Change]
    kept: List[str]  # bindings the controller made, kept (pod keys `ns/name`)
    table: Optional[Table]  # to put last (None: the stored one is current)


def parse_desired(doc: Any) -> Desired:
    """The desired table, checked with the store's records (ContractError names the field)."""
    where = "desired table"
    fields.only(fields.document(doc, where), DESIRED_FIELDS, where)
    cluster = fields.string(doc, "cluster", where)
    grace = fields.above_zero(
        fields.required(doc, "node_grace", where, fields.NUMBER), where + ": node_grace"
    )
    nodes: Dict[str, NodeSpec] = {}
    for i, raw in enumerate(_list(doc, "nodes")):
        spec = NodeSpec.from_json(raw, "desired table: nodes[%d]" % i)
        nodes[keys.nodespec_key(cluster, spec.name)] = spec
    selectors = fields.optional(doc, "node_selectors", where, dict) or {}
    bindings: Dict[str, Binding] = {}
    pods = fields.optional(doc, "pods", where, dict) or {}
    for node in sorted(pods):
        for i, manifest in enumerate(pods[node] or []):
            where = "desired table: pods.%s[%d]" % (node, i)
            b = _binding(node, manifest, selectors, where)
            key = keys.binding_key(cluster, b.namespace, b.name)
            if key in bindings:
                raise ContractError("%s: pod %s/%s is bound twice" % (where, *b.key))
            bindings[key] = b
    return Desired(cluster, float(grace), nodes, bindings)


def _list(doc: Dict[str, Any], field: str) -> List[Any]:
    return fields.optional(doc, field, "desired table", list) or []


def _binding(node: str, manifest: Any, selectors: Dict[str, Any], where: str) -> Binding:
    if isinstance(manifest, dict):
        owner = manifest.get("owner") if isinstance(manifest.get("owner"), dict) else {}
        selector = selectors.get("%s/%s" % (manifest.get("namespace"), owner.get("name")), {})
    else:
        selector = {}
    if not isinstance(selector, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in selector.items()
    ):
        raise ContractError("%s: its deployment's node selector must map strings" % where)
    return Binding.for_pod(node, manifest, selector, where)


def changes(desired: Desired, stored: Dict[str, KeyValue]) -> Plan:
    """What to write so that the store holds `desired` (pure)."""
    out: List[Change] = []
    kept: List[str] = []
    prefix_specs = keys.cluster_prefix(desired.cluster) + keys.NODESPECS + "/"
    for key, spec in sorted(desired.nodes.items()):
        _put_if_differs(out, key, spec.to_text(), stored.get(key))
    for key, binding in sorted(desired.bindings.items()):
        before = stored.get(key)
        if before is not None and _moved_by_controller(before, binding):
            kept.append("%s/%s" % binding.key)
            continue
        _put_if_differs(out, key, binding.to_text(), before)
    bindings_prefix = keys.bindings_prefix(desired.cluster)
    for key, kv in sorted(stored.items()):
        gone = key not in desired.bindings and key not in desired.nodes
        if gone and (key.startswith(bindings_prefix) or key.startswith(prefix_specs)):
            out.append(Change(key, None, kv))
    table_key = keys.table_key(desired.cluster)
    current = _table(stored.get(table_key))
    # The table is written when a key was, or to say what is new about it: a plan that
    # differs only by pods the controller moved (kept) finds the store as it should be.
    if out or current is None or current.node_grace != desired.node_grace:
        generation = current.generation + 1 if current is not None else 1
        return Plan(out, kept, Table(generation, desired.sha, desired.node_grace, 0.0))
    return Plan(out, kept, None)


def _put_if_differs(out: List[Change], key: str, text: str, before: Optional[KeyValue]) -> None:
    if before is None or before.value.decode("utf-8", "replace") != text:
        out.append(Change(key, text, before))


def _moved_by_controller(before: KeyValue, desired: Binding) -> bool:
    try:
        stored = Binding.from_bytes(before.value, before.key)
    except ContractError:
        return False
    return stored.placed_by == PLACED_BY_CONTROLLER and stored.template_hash == (
        desired.template_hash
    )


def _table(kv: Optional[KeyValue]) -> Optional[Table]:
    if kv is None:
        return None
    try:
        return Table.from_bytes(kv.value, kv.key)
    except ContractError:
        return None


def read_stored(store: Store, cluster: str) -> Tuple[Dict[str, KeyValue], int]:
    """Node specs, bindings and the table, read at one revision."""
    ops = [
        wire.op_get(keys.kind_prefix(cluster, keys.NODESPECS), True),
        wire.op_get(keys.bindings_prefix(cluster), True),
        wire.op_get(keys.table_key(cluster)),
    ]
    result = store.txn([], ops)
    return {kv.key: kv for r in result.ranges() for kv in r.kvs}, result.revision


def write(
    store: Store, plan: Plan, table_key: str, now: float, table_before: Optional[KeyValue] = None
) -> Tuple[bool, bool]:
    """Write the changes in batches, each only if its keys are as read; then the table, only
    if nobody wrote it since it was read (`table_before`): of identical writers at once (every
    node of a rollout stage), one writes it. (done, wrote anything): not done when a key
    changed meanwhile (read again and plan again)."""
    batches = [plan.changes[i : i + BATCH] for i in range(0, len(plan.changes), BATCH)]
    wrote = False
    for batch in batches:
        compare = [_unchanged(c) for c in batch]
        ops = [
            wire.op_put(c.key, c.text) if c.text is not None else wire.op_delete(c.key)
            for c in batch
        ]
        if not store.txn(compare, ops).succeeded:
            return False, wrote
        wrote = True
    if plan.table is not None:
        text = plan.table._replace(written_at=round(now, 3)).to_text()
        compare = [_unchanged(Change(table_key, text, table_before))]
        if not store.txn(compare, [wire.op_put(table_key, text)]).succeeded:
            return False, wrote
        wrote = True
    return True, wrote


def _unchanged(change: Change) -> Dict[str, Any]:
    if change.before is None:
        return wire.compare_created(change.key, 0)
    return wire.compare_mod_revision(change.key, change.before.mod_revision)


def apply_table(store: Store, doc: Any, check: bool, diff: bool) -> Dict[str, Any]:
    """Make the store hold the desired table; the module's result. A desired-state write:
    writers of the same table at once converge (the first changes the store, the others
    find it done), and `changed` says whether THIS call wrote anything."""
    desired = parse_desired(doc)
    table_key = keys.table_key(desired.cluster)
    wrote = False
    for _ in range(ATTEMPTS):
        stored, _revision = read_stored(store, desired.cluster)
        plan = changes(desired, stored)
        if check:
            return _result(plan, stored, desired, diff, None)
        done, wrote_now = write(store, plan, table_key, time.time(), stored.get(table_key))
        wrote = wrote or wrote_now
        if done:
            return _result(plan, stored, desired, diff, wrote)
    raise StoreError("the binding table kept changing while it was written; run again")


def _result(
    plan: Plan, stored: Dict[str, KeyValue], desired: Desired, diff: bool, wrote: Optional[bool]
) -> Dict[str, Any]:
    """`wrote`: whether this call wrote (None in check mode: whether it would)."""
    changed = (bool(plan.changes) or plan.table is not None) if wrote is None else wrote
    result: Dict[str, Any] = {
        "changed": changed,
        "written": [c.key for c in plan.changes if c.text is not None],
        "deleted": [c.key for c in plan.changes if c.text is None],
        "kept": plan.kept,
        "generation": plan.table.generation if plan.table else _generation(stored, desired),
        "bindings": len(desired.bindings),
    }
    if diff and changed:
        result["diff"] = [
            {
                "before_header": "store table (%s)" % desired.cluster,
                "after_header": "store table (%s)" % desired.cluster,
                "before": _listing(stored),
                "after": _listing(_after(stored, plan)),
            }
        ]
    return result


def _generation(stored: Dict[str, KeyValue], desired: Desired) -> int:
    current = _table(stored.get(keys.table_key(desired.cluster)))
    return current.generation if current else 0


def _after(stored: Dict[str, KeyValue], plan: Plan) -> Dict[str, KeyValue]:
    out = dict(stored)
    for c in plan.changes:
        if c.text is None:
            out.pop(c.key, None)
        else:
            out[c.key] = KeyValue(c.key, c.text.encode(), 0, 0, 0)
    return out


def _listing(kvs: Dict[str, KeyValue]) -> str:
    """One line per binding and node spec: what a person checks in a diff."""
    lines = []
    for key in sorted(kvs):
        try:
            kind = keys.parse_key(key).kind
            if kind == keys.BINDINGS:
                b = Binding.from_bytes(kvs[key].value, key)
                by = " moved from %s" % b.moved_from if b.moved_from else ""
                lines.append("pod %s/%s on %s %s (%s%s)" % (*b.key, b.node, b.ip, b.placed_by, by))
            elif kind == keys.NODESPECS:
                s = NodeSpec.from_bytes(kvs[key].value, key)
                lines.append("node %s %s cursor %s" % (s.name, s.pod_cidr, s.last_pod_ip))
        except (ContractError, ValueError):
            lines.append("%s (unreadable)" % key)
    return "".join(line + "\n" for line in lines)


def clear_table(store: Store, cluster: str, check: bool) -> Dict[str, Any]:
    """The app's part of the store gone (`podplay destroy --keep-cluster`): `table` first, so
    agents stop following it at once (they run their manifest files again, emptied by the
    same destroy), then the bindings and what the controller keeps per node (node specs, IP
    cursors, statuses). Node leases, the leader and events stay: they belong to the running
    nodes and controllers."""
    prefixes = [keys.bindings_prefix(cluster)]
    prefixes += [
        keys.kind_prefix(cluster, kind) for kind in (keys.NODESPECS, keys.CURSORS, keys.STATUS)
    ]
    found = [keys.table_key(cluster)] if store.get(keys.table_key(cluster)) else []
    found += [kv.key for prefix in prefixes for kv in store.get_prefix(prefix).kvs]
    if found and not check:
        store.delete(keys.table_key(cluster))
        for prefix in prefixes:
            store.delete(prefix, prefix=True)
    return {"changed": bool(found), "deleted": sorted(found)}
