"""One store lease kept alive: an agent's node lease, a controller's leadership lease.

    kept = KeptLease(store, ttl=3, interval=1.0, on_granted=put_my_key)
    threading.Thread(target=kept.run, args=(stop,)).start()

The lease is granted with `ttl` seconds and renewed every `interval`. `on_granted(id)`
attaches what the lease holds (a key put with it) and returns whether it did; it is called
again until it does. A renewal the store answers with "expired" (or a lease not renewed
within its TTL, by our own clock) makes the holder grant a new one. Nothing here stops
anything when the store is unreachable: the holder only learns `held` is false.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from .client import Store, StoreError

log = logging.getLogger("podplay.store")


class KeptLease:
    """State: `lease_id` (0: none), `attached` (on_granted succeeded for it), `held` (the
    last renewal succeeded and the TTL has not run out since)."""

    def __init__(
        self,
        store: Store,
        ttl: int,
        interval: float,
        on_granted: Callable[[int], bool],
        on_renew_failed: Optional[Callable[[], None]] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.interval = interval
        self.on_granted = on_granted
        self.on_renew_failed = on_renew_failed or (lambda: None)
        self.clock = clock
        self.lease_id = 0
        self.attached = False
        self._valid_until = 0.0  # by our clock: the lease cannot outlive this
        self._failing = False

    @property
    def held(self) -> bool:
        return bool(self.lease_id) and self.attached and self.clock() < self._valid_until

    def step(self) -> float:
        """Grant, attach or renew, whichever is due; seconds until the next step."""
        try:
            if not self.lease_id or self.clock() >= self._valid_until:
                self._grant()
            elif not self.attached:
                self.attached = bool(self.on_granted(self.lease_id))
            else:
                self._renew()
        except StoreError as err:
            self._failed(err)
            return min(self.interval, 0.5)
        if self._failing:
            log.info("store lease %x: renewed again", self.lease_id)
            self._failing = False
        return self.interval if self.attached else min(self.interval, 0.2)

    def _grant(self) -> None:
        started = self.clock()
        self.lease_id, self.attached = 0, False
        lease = self.store.lease_grant(self.ttl)
        self.lease_id = lease.id
        self._valid_until = started + lease.ttl
        self.attached = bool(self.on_granted(lease.id))

    def _renew(self) -> None:
        started = self.clock()
        ttl = self.store.lease_keepalive(self.lease_id)
        if ttl <= 0:
            log.warning("store lease %x expired; granting a new one", self.lease_id)
            self.lease_id, self.attached = 0, False
            self.on_renew_failed()
            return
        self._valid_until = started + ttl

    def _failed(self, err: StoreError) -> None:
        if not self._failing:
            log.warning("store lease %x: %s", self.lease_id, err)
        self._failing = True
        self.on_renew_failed()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delay = self.step()
            except Exception:  # a bug in a callback must not end the lease for good
                log.exception("store lease keeper failed")
                delay = 1.0
            stop.wait(delay)

    def revoke(self) -> None:
        """End the lease now (its keys go at once); best effort."""
        lease, self.lease_id, self.attached = self.lease_id, 0, False
        if lease:
            try:
                self.store.lease_revoke(lease)
            except StoreError as err:
                log.info("store lease %x: revoke failed: %s", lease, err)
