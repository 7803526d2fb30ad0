"""Leadership: exactly one controller acts at a time, and a deposed one cannot write.

Each controller keeps a store lease of its own (TTL 3 s, renewed every second). It leads
once it created the `leader` key with that lease (a transaction: only if the key is absent);
the key goes when the lease expires, so a stopped leader's node hands over within the TTL,
and a leader that stops cleanly revokes its lease (the others are told by their watch and
take over at once). The leader steps down the moment a renewal fails; it leads again when
the key it made is still there with its lease.

The fence: every write the leader makes is a transaction that also compares the leader key's
create revision with the one it made. A leader cut off from the store, whose lease expired
meanwhile, finds a new key (or none) there: its writes fail, whatever it believes.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Dict, Optional

from podplay.node.contract import defaults
from podplay.node.contract.store import Leader
from podplay.node.store import keys, wire
from podplay.node.store.client import Store, StoreError
from podplay.node.store.lease import KeptLease

log = logging.getLogger("podplay.controller")


class Leadership:
    def __init__(
        self,
        store: Store,
        cluster: str,
        node: str,
        clock: Callable[[], float] = time.time,
        on_change: Optional[Callable[[], None]] = None,
    ) -> None:
        self.store = store
        self.key = keys.leader_key(cluster)
        self.node = node
        self.clock = clock
        self.on_change = on_change or (lambda: None)
        self.kept = KeptLease(
            store,
            defaults.LEADER_LEASE_TTL,
            defaults.LEADER_LEASE_RENEW,
            on_granted=lambda lease_id: True,
            on_renew_failed=self.step_down,
        )
        self.fence_revision = 0  # the leader key's create revision while we lead
        self.since: Optional[float] = None

    @property
    def leading(self) -> bool:
        return bool(self.fence_revision) and self.kept.held

    def fence(self) -> Dict[str, Any]:
        """The comparison every write of the leader carries."""
        return wire.compare_created(self.key, self.fence_revision or -1)

    def campaign(self) -> bool:
        """Lead if nobody does (or if the key is still ours); whether we lead now."""
        lease = self.kept.lease_id
        if not self.kept.held or not lease:
            self.step_down()
            return False
        me = Leader(self.node, round(self.clock(), 3), os.getpid())
        try:
            result = self.store.txn(
                [wire.compare_created(self.key, 0)],
                [wire.op_put(self.key, me.to_text(), lease)],
                [wire.op_get(self.key)],
            )
        except StoreError as err:
            log.info("campaign failed: %s", err)
            return False
        if result.succeeded:
            return self._lead(result.revision, "took")
        found = result.ranges()[0].kvs if result.ranges() else []
        if found and found[0].lease == lease:
            return self._lead(found[0].create_revision, "kept")
        self.fence_revision = 0
        return False

    def _lead(self, revision: int, how: str) -> bool:
        if self.fence_revision != revision:
            log.info("%s the leadership (lease %x, fence %d)", how, self.kept.lease_id, revision)
            self.since = self.clock()
            self.on_change()
        self.fence_revision = revision
        return True

    def step_down(self) -> None:
        """Stop acting now (a renewal failed, or the key is someone else's)."""
        if self.fence_revision:
            log.warning("stepping down: the leadership lease could not be renewed")
            self.on_change()
        self.fence_revision = 0
        self.since = None

    def resign(self) -> None:
        """On a clean stop: end the lease, so another controller leads at once."""
        self.fence_revision = 0
        self.kept.revoke()
