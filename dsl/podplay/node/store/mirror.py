"""A local copy of some kinds of the cluster's keys, kept current by one watch.

Agents (their bindings), proxies (where each pod runs) and the controller (leases, specs,
bindings, status) read the store through a mirror instead of asking it at every turn:

    mirror = Mirror(store, "shop", (keys.BINDINGS, keys.TABLE), on_change=wake)
    mirror.list_once()                 # optional: a first copy now (raises StoreError)
    threading.Thread(target=mirror.run, args=(stop,)).start()
    view = mirror.view()               # revision, {key: KeyValue}, synced

A mirror lists its kinds in one transaction (one revision for all of them), then watches
the cluster's prefix from the next revision, so it misses nothing and never mixes two
moments of the store. When the store is unreachable it keeps the last copy (fail static:
`synced` stays true once it has listed); when the revisions it needs were compacted it lists
again. `on_change` is called on the mirror's thread after every change it applies.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from podplay.node.util.backoff import Backoff

from . import keys, wire
from .client import Compacted, Store, StoreError
from .wire import Event, KeyValue

log = logging.getLogger("podplay.store")

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
SINGLE_KEY_KINDS = (keys.LEADER, keys.TABLE)


class View(NamedTuple):
    """The mirror at one moment: the store revision it reflects and its keys."""

    revision: int
    kvs: Dict[str, KeyValue]
    synced: bool  # listed at least once since start

    def of_kind(self, kind: str) -> List[KeyValue]:
        """The keys of one kind, sorted by key."""
        out = []
        for key in sorted(self.kvs):
            try:
                if keys.parse_key(key).kind == kind:
                    out.append(self.kvs[key])
            except ValueError:
                continue
        return out


def kind_range(cluster: str, kind: str) -> Tuple[str, bool]:
    """The key (and whether it is a prefix) that holds every key of `kind`."""
    if kind == keys.LEADER:
        return keys.leader_key(cluster), False
    if kind == keys.TABLE:
        return keys.table_key(cluster), False
    if kind == keys.BINDINGS:
        return keys.bindings_prefix(cluster), True
    if kind == keys.EVENTS:
        return keys.events_prefix(cluster), True
    return keys.kind_prefix(cluster, kind), True


class Mirror:
    """Keys of `kinds` under the cluster's prefix, as of `revision` (thread-safe reads)."""

    def __init__(
        self,
        store: Store,
        cluster: str,
        kinds: Iterable[str],
        on_change: Optional[Callable[[], None]] = None,
    ) -> None:
        self.store = store
        self.cluster = cluster
        self.kinds = tuple(kinds)
        self.on_change = on_change or (lambda: None)
        self._lock = threading.Lock()
        self._kvs: Dict[str, KeyValue] = {}
        self._revision = 0
        self._synced = False
        self._listed = False  # the copy is current as of `_revision` (else list again)

    def view(self) -> View:
        with self._lock:
            return View(self._revision, dict(self._kvs), self._synced)

    @property
    def synced(self) -> bool:
        with self._lock:
            return self._synced

    def list_once(self) -> None:
        """Replace the copy with the store's keys of every kind, read at one revision."""
        ranges = [kind_range(self.cluster, kind) for kind in self.kinds]
        result = self.store.txn([], [wire.op_get(key, prefix) for key, prefix in ranges])
        kvs = {kv.key: kv for found in result.ranges() for kv in found.kvs}
        with self._lock:
            self._kvs, self._revision = kvs, result.revision
            self._synced = self._listed = True
        self.on_change()

    def apply(self, event: Event) -> bool:
        """Take one watched change; True when it touched a kind this mirror keeps."""
        try:
            kind = keys.parse_key(event.kv.key).kind
        except ValueError:
            kind = ""
        with self._lock:
            self._revision = max(self._revision, event.revision)
            if kind not in self.kinds:
                return False
            if event.type == "DELETE":
                self._kvs.pop(event.kv.key, None)
            else:
                self._kvs[event.kv.key] = event.kv
        return True

    def run(self, stop: threading.Event) -> None:
        """List, then follow the store until `stop`; never raises (keeps the last copy)."""
        backoff = Backoff.stepped(RETRY_DELAYS)
        while not stop.is_set():
            try:
                if not self._listed:
                    self.list_once()
                backoff.succeeded()
                self._follow(stop)
            except Compacted as err:
                log.info("store mirror: %s; listing again", err)
                self._listed = False
            except StoreError as err:
                delay = backoff.failed()
                if backoff.failures == 1:
                    log.warning("store mirror: %s (keeping the last copy)", err)
                stop.wait(delay)
            except Exception:  # a bug must not end the copy for good
                log.exception("store mirror failed; listing again")
                self._listed = False
                stop.wait(1.0)

    def _follow(self, stop: threading.Event) -> None:
        prefix = keys.cluster_prefix(self.cluster)
        with self._lock:
            start = self._revision + 1
        for event in self.store.watch_prefix(prefix, start_revision=start, stop=stop):
            if self.apply(event):
                self.on_change()
