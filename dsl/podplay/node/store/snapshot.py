"""A store snapshot decoded: the key-value pairs of one revision read into the records of
`podplay.node.contract.store`, by kind of key (`keys.parse_key`). Pure.

The one reader of those kinds for the controller on a node (`controller/world.py`, from its
mirror) and for `podplay` on the machine that runs it (`control/cluster_store.py`, from
prefix reads pinned to one revision). A value that does not read is left out and noted
(`unreadable`), never fatal: one bad key must not hide the rest, nor stop the controller
from moving the pods of a dead node.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

from podplay.node.contract.errors import ContractError
from podplay.node.contract.store import Binding, Cursor, NodeLease, NodeSpec, NodeStatus, Table

from . import keys
from .wire import KeyValue

PodKey = Tuple[str, str]

# The kinds a snapshot decodes (the controller's mirror watches these prefixes).
KINDS = (keys.NODES, keys.NODESPECS, keys.BINDINGS, keys.TABLE, keys.CURSORS, keys.STATUS)


class Snapshot(NamedTuple):
    revision: int
    table: Optional[Table]
    specs: Dict[str, NodeSpec]  # by node, in the plan's node order
    lease_holders: FrozenSet[str]  # nodes whose lease key exists: their agent is alive
    leases: Dict[str, NodeLease]  # the lease records that read, by node
    statuses: Dict[str, Tuple[NodeStatus, int]]  # with the revision a write compares
    bindings: Dict[PodKey, Tuple[Binding, int]]  # with the revision a move compares
    cursors: Dict[str, Cursor]
    unreadable: List[Tuple[str, str]]  # (key, why) of each value left out


def decode(revision: int, kvs: Iterable[KeyValue]) -> Snapshot:
    """Every key of the snapshot's kinds read strictly, key by key, in key order; keys of
    other kinds (leader, events) are passed over."""
    snap = Snapshot(revision, None, {}, frozenset(), {}, {}, {}, {}, [])
    holders = set()
    for kv in sorted(kvs, key=lambda kv: kv.key):
        try:
            parsed = keys.parse_key(kv.key)
            if parsed.kind == keys.NODES:
                holders.add(parsed.node or "")
            snap = _read(snap, parsed, kv)
        except (ValueError, ContractError) as err:
            snap.unreadable.append((kv.key, str(err)))
    ordered = dict(sorted(snap.specs.items(), key=lambda item: node_order(item[0])))
    return snap._replace(specs=ordered, lease_holders=frozenset(holders))


def _read(snap: Snapshot, parsed: keys.StoreKey, kv: KeyValue) -> Snapshot:
    """`snap` with the record of one key added (ContractError when its value does not read)."""
    node, key = parsed.node or "", kv.key
    if parsed.kind == keys.NODES:
        snap.leases[node] = NodeLease.from_bytes(kv.value, key)
    elif parsed.kind == keys.TABLE:
        return snap._replace(table=Table.from_bytes(kv.value, key))
    elif parsed.kind == keys.NODESPECS:
        snap.specs[node] = NodeSpec.from_bytes(kv.value, key)
    elif parsed.kind == keys.STATUS:
        snap.statuses[node] = (NodeStatus.from_bytes(kv.value, key), kv.mod_revision)
    elif parsed.kind == keys.BINDINGS:
        binding = Binding.from_bytes(kv.value, key)
        snap.bindings[binding.key] = (binding, kv.mod_revision)
    elif parsed.kind == keys.CURSORS:
        snap.cursors[node] = Cursor.from_bytes(kv.value, key)
    return snap


def node_order(name: str) -> Tuple[str, int, str]:
    """node2 before node10: the plan's order for the names podplay gives."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem) :]
    return (stem, int(digits) if digits else -1, name)
