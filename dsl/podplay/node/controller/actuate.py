"""The leader's writes, each one transaction that holds only while it still leads (the fence)
and while what it decided from is still so:

- a node status: the status key is as read;
- a move: the binding is as read (nobody moved it meanwhile, Ansible did not rewrite it) and
  the node it leaves still has no lease (an agent that came back in the meantime keeps its
  pods); the binding, the new node's IP cursor and the events go together;
- events alone (a pod that cannot be placed).

Events carry a lease of an hour (renewed every ten minutes for new events), so the store
forgets them as Kubernetes does. A write that fails (quorum lost, leadership gone, the world
changed) is reported and not repeated: the next turn decides again from what the store says.
"""

from __future__ import annotations

import binascii
import logging
import os
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

from podplay.node.contract.store import Event
from podplay.node.store import keys, wire
from podplay.node.store.client import Store, StoreError

from .decide import Move, StatusWrite

log = logging.getLogger("podplay.controller")

EVENT_TTL = 3600
EVENT_LEASE_ROTATE = 600.0


class Actuator:
    def __init__(
        self,
        store: Store,
        cluster: str,
        fence: Callable[[], Dict[str, Any]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cluster = cluster
        self.fence = fence
        self.clock = clock
        self._event_lease = 0
        self._event_lease_at = 0.0

    def write_status(self, write: StatusWrite) -> bool:
        key = keys.status_key(self.cluster, write.status.node)
        compare = [self.fence(), _as_read(key, write.mod_revision)]
        ops = [wire.op_put(key, write.status.to_text()), *self._event_ops(write.events)]
        return self._txn("node status of %s" % write.status.node, compare, ops)

    def move(self, move: Move) -> bool:
        old, new = move.old, move.new
        key = keys.binding_key(self.cluster, old.namespace, old.name)
        compare = [
            self.fence(),
            wire.compare_mod_revision(key, move.mod_revision),
            wire.compare_created(keys.node_key(self.cluster, old.node), 0),
        ]
        ops = [
            wire.op_put(key, new.to_text()),
            wire.op_put(keys.cursor_key(self.cluster, new.node), move.cursor.to_text()),
            *self._event_ops(move.events),
        ]
        done = self._txn("move of %s/%s" % old.key, compare, ops)
        if done:
            log.info(
                "moved pod %s/%s from %s to %s (%s); ip %s",
                old.namespace,
                old.name,
                old.node,
                new.node,
                new.reason,
                new.ip,
            )
        return done

    def record(self, events: Iterable[Event]) -> bool:
        ops = self._event_ops(events)
        return not ops or self._txn("events", [self.fence()], ops)

    def _txn(self, what: str, compare: List[Dict[str, Any]], ops: List[Dict[str, Any]]) -> bool:
        try:
            result = self.store.txn(compare, ops)
        except StoreError as err:
            log.warning("%s not written: %s", what, err)
            return False
        if not result.succeeded:
            log.info("%s not written: the store changed meanwhile (or we lead no more)", what)
        return result.succeeded

    def _event_ops(self, events: Iterable[Event]) -> List[Dict[str, Any]]:
        events = list(events)
        if not events:
            return []
        lease = self._lease_for_events()
        ops = []
        for event in events:
            ident = binascii.hexlify(os.urandom(4)).decode()
            key = keys.event_key(self.cluster, int(event.time * 1000), ident)
            ops.append(wire.op_put(key, event.to_text(), lease))
        return ops

    def _lease_for_events(self) -> int:
        """A lease of an hour, a new one every ten minutes (never one about to expire)."""
        now = self.clock()
        if not self._event_lease or now - self._event_lease_at >= EVENT_LEASE_ROTATE:
            try:
                self._event_lease = self.store.lease_grant(EVENT_TTL).id
                self._event_lease_at = now
            except StoreError as err:
                log.info("no lease for events (%s): kept without one", err)
                return 0
        return self._event_lease


def _as_read(key: str, mod_revision: Optional[int]) -> Dict[str, Any]:
    """The key is as it was read: absent (0) or last written at `mod_revision`."""
    if not mod_revision:
        return wire.compare_created(key, 0)
    return wire.compare_mod_revision(key, mod_revision)
