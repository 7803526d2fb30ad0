"""The cluster's store (etcd), read from the machine that runs podplay.

podplay reaches the store's members (the control-plane nodes, client port 2379) with its own
client certificate (`podplay.artifacts.pki`: `<PODPLAY_HOME>/clusters/<c>/pki/client.crt`),
through the node bundle's client (`podplay.node.store.Store`), and reads the records of
`podplay.node.contract.store` under the keys of `podplay.node.store.keys`:

- `up` and `preview` read the controller's moves (`bindings/`, `cursors/`) to refresh the
  applied plan, and the node leases (`nodes/`) to plan around NotReady nodes;
- `get` and `describe` read leases, the leader's node status (`status/`) and events.

Only reads, with short timeouts: a store that does not answer costs a second or two and a
warning, never a failure (`StoreUnavailable` says why in one sentence: no member answers, or
the members that answer have lost their quorum).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podplay.artifacts import pki
from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.store import Binding, Cursor, Event, NodeLease, NodeStatus, Table
from podplay.node.store import Store, StoreError, snapshot
from podplay.node.store import keys as store_keys
from podplay.node.store.wire import KeyValue
from podplay.plan import Plan

CONNECT_TIMEOUT = 0.7
REQUEST_TIMEOUT = 2.0


class StoreUnavailable(Exception):
    """The store could not be read; the message says why in one sentence."""


@dataclass(frozen=True)
class StoreView:
    """What the store says about the cluster's nodes and pods, read at one moment."""

    cluster: str
    bindings: dict[tuple[str, str], Binding] = field(default_factory=dict)
    cursors: dict[str, Cursor] = field(default_factory=dict)
    leases: dict[str, NodeLease] = field(default_factory=dict)
    statuses: dict[str, NodeStatus] = field(default_factory=dict)
    table: Table | None = None
    unreadable: list[str] = field(default_factory=list)  # records that did not parse

    @property
    def leases_kept(self) -> bool:
        """The agents keep leases: some node holds one. (None at all: the nodes' agents are
        of a podplay that keeps none, or all are down; either way leases tell nothing.)"""
        return bool(self.leases)

    def lease_gone(self, node: str) -> bool:
        """The node's agent has not renewed its lease: the controller counts it NotReady."""
        return self.leases_kept and node not in self.leases

    def not_ready_since(self, node: str) -> float | None:
        """When the leader saw the node go NotReady (None: it has not written so)."""
        status = self.statuses.get(node)
        return status.since if status is not None and not status.ready else None


@dataclass(frozen=True)
class StoreAccess:
    """How to reach one cluster's store from here."""

    cluster: str
    endpoints: tuple[str, ...]
    pki_dir: Path

    def client(self) -> Store:
        certs = pki.Pki(self.pki_dir)
        return Store(
            list(self.endpoints),
            ca=str(certs.ca_cert),
            cert=str(certs.client_cert),
            key=str(certs.client_key),
            timeout=REQUEST_TIMEOUT,
            connect_timeout=CONNECT_TIMEOUT,
        )


def access_for(
    cluster: str, members: Iterable[tuple[str | None, bool]], pki_dir: str | Path
) -> StoreAccess | None:
    """The store of a cluster whose nodes are `(address, is a member)`; None when it has no
    member with an address, or this machine holds no client certificate for it (no store
    was ever set up from here)."""
    directory = Path(pki_dir)
    port = defaults.STORE_CLIENT_PORT  # the control_plane role's (podplay_store_client_port)
    endpoints = tuple(f"https://{a}:{port}" for a, member in members if member and a)
    certs = pki.Pki(directory)
    if not endpoints or not (certs.client_cert.is_file() and certs.client_key.is_file()):
        return None
    return StoreAccess(cluster, endpoints, directory)


def access_for_plan(plan: Plan | None, pki_dir: str | Path) -> StoreAccess | None:
    """The store of the cluster a plan was applied to (its control-plane members)."""
    if plan is None:
        return None
    members = [(n.address, n.control_plane) for n in plan.nodes]
    return access_for(plan.cluster.name, members, pki_dir)


def read_view(access: StoreAccess, store: Store | None = None) -> StoreView:
    """Bindings, cursors, leases, node status and the table, all as of one revision (the
    first read's), decoded by the nodes' own reader of a store snapshot; StoreUnavailable
    when it cannot be read."""
    store = store or access.client()
    c = access.cluster
    reader = _Reader(store)
    kvs = [
        kv
        for prefix in (
            store_keys.bindings_prefix(c),
            store_keys.kind_prefix(c, store_keys.CURSORS),
            store_keys.kind_prefix(c, store_keys.NODES),
            store_keys.kind_prefix(c, store_keys.STATUS),
            store_keys.table_key(c),
        )
        for kv in reader.read(prefix)
        if prefix.endswith("/") or kv.key == prefix  # the table's key, not longer ones
    ]
    snap = snapshot.decode(reader.revision, kvs)
    return StoreView(
        cluster=c,
        bindings={key: b for key, (b, _) in snap.bindings.items()},
        cursors=snap.cursors,
        leases=snap.leases,
        statuses={node: status for node, (status, _) in snap.statuses.items()},
        table=snap.table,
        unreadable=[why for _, why in snap.unreadable],
    )


def read_events(access: StoreAccess, store: Store | None = None) -> list[Event]:
    """Every event the store keeps, oldest first (their keys sort by time); an event that
    does not read is skipped."""
    events = []
    for kv in _Reader(store or access.client()).read(store_keys.events_prefix(access.cluster)):
        try:
            events.append((kv.key, Event.from_bytes(kv.value, kv.key)))
        except ContractError:
            continue
    return [event for _, event in sorted(events)]


class _Reader:
    """Reads several prefixes at the revision of its first read, so a view never mixes
    bindings of one moment with leases of another."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.revision = 0  # 0: now; set by the first read

    def read(self, prefix: str) -> list[KeyValue]:
        """The pairs under `prefix` at the pinned revision."""
        try:
            found = self.store.get_prefix(prefix, revision=self.revision)
        except StoreError as err:
            raise StoreUnavailable(why_unavailable(self.store, err)) from None
        self.revision = self.revision or found.revision
        return list(found.kvs)


def why_unavailable(store: Store, err: Exception) -> str:
    """One sentence: no member answers, or those that answer have no quorum."""
    answered = []
    for endpoint in store.endpoints:
        healthy, reason = store.health(endpoint)
        if healthy:
            return f"the store could not be read ({_short(err)})"
        if not _no_answer(reason):
            answered.append(endpoint)
    total = len(store.endpoints)
    members = f"{total} member{'s' if total != 1 else ''}"
    if answered:
        return f"the store has lost its quorum ({len(answered)} of {members} answer, no leader)"
    return f"the store does not answer (none of its {members} is reachable)"


def _no_answer(reason: str) -> bool:
    words = ("refused", "timed out", "timeout", "unreachable", "no route", "connection", "reset")
    return any(w in reason.lower() for w in words)


def _short(err: Any) -> str:
    text = str(err)
    return text if len(text) <= 160 else text[:157] + "..."
