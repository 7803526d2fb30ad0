"""The controller's loop: wake on news, and when leading, decide and write.

News is a change the mirror of the store saw (a lease gone, a binding written, the leader
key), the leadership lease's renewal failing, or a deadline (a node's grace period ending, a
stuck pod's retry). Each turn reads the mirror into a `World`, decides (`decide`, pure) and
writes (`actuate`), checking before each write that it still leads. The mirror is a watch
of the store, so a turn never asks the store anything; every write compares what it was
decided from, so a stale mirror costs a failed transaction, never a wrong move.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, Optional, Set, Tuple

from podplay.node.store import keys
from podplay.node.store.client import Store
from podplay.node.store.mirror import Mirror
from podplay.node.store.snapshot import KINDS

from .actuate import Actuator
from .decide import NodeView, moves, readiness, status_writes
from .election import Leadership
from .world import read_world

log = logging.getLogger("podplay.controller")

IDLE = 1.0  # seconds between turns without news (campaigns, leadership checks)


class Controller:
    def __init__(
        self,
        store: Store,
        cluster: str,
        node: str,
        lease_store: Optional[Store] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.wake = threading.Event()
        self.mirror = Mirror(store, cluster, (*KINDS, keys.LEADER), self.wake.set)
        self.leadership = Leadership(lease_store or store, cluster, node, clock, self.wake.set)
        self.actuator = Actuator(store, cluster, self.leadership.fence)
        self.views: Dict[str, NodeView] = {}
        self._warned: Set[Tuple[str, str, str]] = set()
        self._held_back = ""

    def run(self, stop: threading.Event) -> None:
        """Until `stop`; then resign, so another member leads at once."""
        for name, target in (
            ("store-mirror", self.mirror.run),
            ("leader-lease", self.leadership.kept.run),
        ):
            threading.Thread(target=target, args=(stop,), name=name, daemon=True).start()
        while not stop.is_set():
            self.wake.clear()
            try:
                delay = self.turn()
            except Exception:  # a bug in one turn must not end the controller
                log.exception("controller turn failed")
                delay = IDLE
            self.wake.wait(delay)
        self.leadership.resign()

    def turn(self) -> float:
        """One look at the world; seconds until the next one without news."""
        if not self.leadership.leading and not self.leadership.campaign():
            self.views, self._warned = {}, set()
            return IDLE
        view = self.mirror.view()
        if not view.synced:
            return 0.2
        now = round(self.clock(), 3)
        world = read_world(view.revision, view.kvs)
        self.views = readiness(world, self.views, now)
        for write in status_writes(world, self.views, now):
            if not self.leadership.leading:
                return IDLE
            self.actuator.write_status(write)
        planned = moves(world, self.views, now)
        self._say_held_back(planned.held_back)
        for move in planned.moves:
            if not self.leadership.leading:
                return IDLE
            self.actuator.move(move)
        fresh = [e for e in planned.stuck if (e.namespace, e.name, e.message) not in self._warned]
        if fresh and self.leadership.leading and self.actuator.record(fresh):
            self._warned.update((e.namespace, e.name, e.message) for e in fresh)
        if planned.wake_at is None:
            return IDLE
        return max(0.0, min(IDLE, planned.wake_at - self.clock()))

    def _say_held_back(self, why: str) -> None:
        if why and why != self._held_back:
            log.warning("not moving pods off NotReady nodes: %s", why)
        self._held_back = why
