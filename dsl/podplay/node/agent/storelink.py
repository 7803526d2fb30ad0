"""The agent's link to the cluster's store: its node lease, and the binding table it follows.

Two threads: the node lease (`nodes/<node>`, TTL 3 s, renewed every second against whichever
member answers; granted again when it expired) says this node is alive, and starts before
the agent loads the Docker SDK, so a restarting agent keeps its node Ready; a mirror of the
binding table posts `BindingsChanged` to the agent's inbox at every change, so a pod bound
here starts as soon as its binding arrives (a watch, not a poll). Fail static: when the store
is unreachable nothing is stopped; the agent keeps the last table it read.

Without `/etc/podplay/store.json` (a cluster without a control plane) there is no link and
the agent runs its manifest files as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Optional, Tuple

from podplay.node import VERSION
from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.store import NodeLease
from podplay.node.contract.store_config import StoreConfig
from podplay.node.store import keys
from podplay.node.store.client import Store, StoreError
from podplay.node.store.lease import KeptLease
from podplay.node.store.mirror import Mirror, View

from .messages import BindingsChanged, Message

log = logging.getLogger("podplay.agent")

FIRST_SYNC_WAIT = 2.0  # at start, how long the first pass waits for the table
LEASE_TIMEOUT = 1.0  # a renewal that takes longer is tried on the next member
BOOT_ID = "/proc/sys/kernel/random/boot_id"


class StoreLink:
    def __init__(self, cfg: StoreConfig, node: str, address: str) -> None:
        self.cfg = cfg
        self.node = node
        self.address = address
        self.post: Callable[[Message], None] = lambda message: None  # the agent's inbox
        store = Store.from_config(cfg)
        self.mirror = Mirror(
            store, cfg.cluster, (keys.BINDINGS, keys.TABLE), lambda: self.post(BindingsChanged())
        )
        quick = Store.from_config(cfg, timeout=LEASE_TIMEOUT, connect_timeout=0.5)
        self.lease = KeptLease(
            quick, defaults.NODE_LEASE_TTL, defaults.NODE_LEASE_RENEW, self._attach
        )
        self._record = NodeLease(node, address, _boot_id(), time.time(), VERSION)
        self._lease_thread: Optional[Tuple[threading.Thread, threading.Event]] = None

    @classmethod
    def from_file(
        cls, node: str, address: str, path: str = defaults.STORE_JSON
    ) -> Optional["StoreLink"]:
        """The link, or None when this node has no store.json."""
        if not os.path.exists(path):
            log.info("no %s: pods come from the manifest files only", path)
            return None
        try:
            cfg = StoreConfig.load(path)
        except ContractError as err:
            log.error("store: %s; pods come from the manifest files only", err)
            return None
        return cls(cfg, node, address)

    def _attach(self, lease_id: int) -> bool:
        self.lease.store.put(
            keys.node_key(self.cfg.cluster, self.node), self._record.to_text(), lease=lease_id
        )
        log.info("node lease %x held (ttl %d s)", lease_id, defaults.NODE_LEASE_TTL)
        return True

    def start_lease(self, stop: threading.Event) -> None:
        """The node lease's thread (as early as possible: the node is Ready while it runs)."""
        keeper = threading.Thread(target=self.lease.run, args=(stop,), name="node-lease")
        keeper.daemon = True
        keeper.start()
        self._lease_thread = (keeper, stop)

    def hand_over(self) -> bool:
        """Keep the node Ready across a restart of the agent alone (systemd restarting the
        unit after a new config or bundle): the node key is put again with a lease of
        `NODE_RESTART_GRACE` seconds, which the next agent's own lease replaces. A slow start
        on a loaded machine then moves no pod; a node going down does not hand over (the
        caller asks systemd), and an agent that never comes back is NotReady after the grace.
        The lease's thread stops first, so it cannot put the key back on the short lease."""
        if self._lease_thread is not None:
            keeper, stop = self._lease_thread
            stop.set()
            keeper.join(timeout=2 * LEASE_TIMEOUT)
        key = keys.node_key(self.cfg.cluster, self.node)
        return put_with_new_lease(
            self.lease.store, key, self._record.to_text(), defaults.NODE_RESTART_GRACE
        )

    def start(self, stop: threading.Event) -> None:
        """The binding table's thread; returns once the table was read, or after
        FIRST_SYNC_WAIT (then the files rule until the store answers)."""
        threading.Thread(
            target=self.mirror.run, args=(stop,), name="store-bindings", daemon=True
        ).start()
        deadline = time.monotonic() + FIRST_SYNC_WAIT
        while not self.mirror.synced and time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.02)
        if not self.mirror.synced:
            log.warning("store not reachable yet: running the manifest files meanwhile")

    def view(self) -> View:
        return self.mirror.view()


def put_with_new_lease(store: Store, key: str, text: str, ttl: int) -> bool:
    """`key` put with a lease of its own of `ttl` seconds; False when the store did not take
    it (best effort: the key then goes with the old lease, as after a crash)."""
    try:
        lease = store.lease_grant(ttl)
        store.put(key, text, lease=lease.id)
    except StoreError as err:
        log.warning("node lease: no hand-over to the next agent: %s", err)
        return False
    log.info("node lease handed over: %s kept for %d s for the next agent", key, ttl)
    return True


def _boot_id() -> str:
    try:
        with open(BOOT_ID) as handle:
            return handle.read().strip()
    except OSError:
        return ""
