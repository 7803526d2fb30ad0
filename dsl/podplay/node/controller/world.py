"""The cluster as the controller sees it: a mirror's keys read into the store's records
(pure). A value that does not read is left out (and logged), never fatal: one bad key must
not stop the controller from moving the pods of a dead node.
"""

from __future__ import annotations

import logging
from typing import Dict, FrozenSet, Mapping, NamedTuple, Optional, Tuple

from podplay.node.contract.errors import ContractError
from podplay.node.contract.store import Binding, Cursor, NodeSpec, NodeStatus, Table
from podplay.node.store import keys
from podplay.node.store.wire import KeyValue

log = logging.getLogger("podplay.controller")

PodKey = Tuple[str, str]


class World(NamedTuple):
    revision: int
    table: Optional[Table]
    specs: Dict[str, NodeSpec]  # by node, in the plan's node order
    leases: FrozenSet[str]  # nodes whose lease key exists: their agent is alive
    statuses: Dict[str, Tuple[NodeStatus, int]]  # with the revision a write compares
    bindings: Dict[PodKey, Tuple[Binding, int]]  # with the revision a move compares
    cursors: Dict[str, Cursor]


KINDS = (keys.NODES, keys.NODESPECS, keys.BINDINGS, keys.TABLE, keys.CURSORS, keys.STATUS)


def read_world(revision: int, kvs: Mapping[str, KeyValue]) -> World:
    """Every kind the controller decides from, read strictly key by key."""
    table: Optional[Table] = None
    specs: Dict[str, NodeSpec] = {}
    leases = set()
    statuses: Dict[str, Tuple[NodeStatus, int]] = {}
    bindings: Dict[PodKey, Tuple[Binding, int]] = {}
    cursors: Dict[str, Cursor] = {}
    for key in sorted(kvs):
        kv = kvs[key]
        try:
            parsed = keys.parse_key(key)
            if parsed.kind == keys.NODES:
                leases.add(parsed.node)
            elif parsed.kind == keys.TABLE:
                table = Table.from_bytes(kv.value, key)
            elif parsed.kind == keys.NODESPECS:
                specs[parsed.node] = NodeSpec.from_bytes(kv.value, key)
            elif parsed.kind == keys.STATUS:
                statuses[parsed.node] = (NodeStatus.from_bytes(kv.value, key), kv.mod_revision)
            elif parsed.kind == keys.BINDINGS:
                b = Binding.from_bytes(kv.value, key)
                bindings[b.key] = (b, kv.mod_revision)
            elif parsed.kind == keys.CURSORS:
                cursors[parsed.node] = Cursor.from_bytes(kv.value, key)
        except (ValueError, ContractError) as err:
            log.warning("store: ignoring %s: %s", key, err)
    ordered = dict(sorted(specs.items(), key=lambda item: _node_order(item[0])))
    return World(revision, table, ordered, frozenset(leases), statuses, bindings, cursors)


def _node_order(name: str) -> Tuple[str, int, str]:
    """node2 before node10: the plan's order for the names podplay gives."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem) :]
    return (stem, int(digits) if digits else -1, name)
