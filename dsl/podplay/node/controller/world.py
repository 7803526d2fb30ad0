"""The cluster as the controller sees it: a mirror's keys read into the store's records
(pure, through the one decoder of a store snapshot, `podplay.node.store.snapshot`). A value
that does not read is left out (and logged), never fatal: one bad key must not stop the
controller from moving the pods of a dead node.
"""

from __future__ import annotations

import logging
from typing import Dict, FrozenSet, Mapping, NamedTuple, Optional, Tuple

from podplay.node.contract.store import Binding, Cursor, NodeSpec, NodeStatus, Table
from podplay.node.store import snapshot
from podplay.node.store.snapshot import PodKey
from podplay.node.store.wire import KeyValue

log = logging.getLogger("podplay.controller")


class World(NamedTuple):
    revision: int
    table: Optional[Table]
    specs: Dict[str, NodeSpec]  # by node, in the plan's node order
    leases: FrozenSet[str]  # nodes whose lease key exists: their agent is alive
    statuses: Dict[str, Tuple[NodeStatus, int]]  # with the revision a write compares
    bindings: Dict[PodKey, Tuple[Binding, int]]  # with the revision a move compares
    cursors: Dict[str, Cursor]


def read_world(revision: int, kvs: Mapping[str, KeyValue]) -> World:
    """Every kind the controller decides from, read strictly key by key (store/snapshot.py);
    a value that does not read is logged and left out (a node lease still counts as held:
    its key exists, so the agent is alive)."""
    snap = snapshot.decode(revision, kvs.values())
    for key, why in snap.unreadable:
        log.warning("store: ignoring %s: %s", key, why)
    return World(
        revision,
        snap.table,
        snap.specs,
        snap.lease_holders,
        snap.statuses,
        snap.bindings,
        snap.cursors,
    )
