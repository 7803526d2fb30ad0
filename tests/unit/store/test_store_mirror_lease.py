"""A mirror keeps a copy of some kinds of keys current through one watch, and keeps the last
copy when the store goes away; a kept lease is renewed, granted again when it expired, and
says when it is not held (by a fake clock, no sleeping)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from store_builders import CLUSTER, Etcd

from podplay.node.store import StoreError, keys
from podplay.node.store.lease import KeptLease
from podplay.node.store.mirror import Mirror


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    cluster = Etcd()
    yield cluster
    cluster.stop()


def wait_for(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


BINDING = keys.binding_key(CLUSTER, "default", "web-1")
TABLE = keys.table_key(CLUSTER)
NODE = keys.node_key(CLUSTER, "node1")


def test_a_mirror_lists_its_kinds_at_one_revision_and_follows_changes(etcd: Etcd) -> None:
    store = etcd.client()
    store.put(BINDING, "one")
    store.put(NODE, "alive")
    changes = []
    mirror = Mirror(store, CLUSTER, (keys.BINDINGS, keys.TABLE), lambda: changes.append(1))
    mirror.list_once()
    view = mirror.view()
    assert view.synced and list(view.kvs) == [BINDING]  # the node lease is not its kind
    assert view.revision == etcd.data.revision
    stop = threading.Event()
    threading.Thread(target=mirror.run, args=(stop,), daemon=True).start()
    try:
        store.put(TABLE, "t")
        store.put(NODE, "again")  # another kind: no news
        store.delete(BINDING)
        wait_for(lambda: BINDING not in mirror.view().kvs)
        assert list(mirror.view().kvs) == [TABLE]
        assert [kv.key for kv in mirror.view().of_kind(keys.TABLE)] == [TABLE]
    finally:
        stop.set()
    assert len(changes) >= 3  # the listing, the table, the deletion


def test_a_mirror_keeps_its_copy_while_the_store_is_gone_and_catches_up(etcd: Etcd) -> None:
    store = etcd.client(timeout=0.5, connect_timeout=0.2)
    store.put(BINDING, "one")
    mirror = Mirror(store, CLUSTER, (keys.BINDINGS,))
    stop = threading.Event()
    threading.Thread(target=mirror.run, args=(stop,), daemon=True).start()
    try:
        wait_for(lambda: mirror.synced)
        for member in etcd.members:
            member.unavailable = True  # no leader anywhere: quorum lost
        time.sleep(0.3)
        assert mirror.view().kvs[BINDING].value == b"one"  # fail static
        with etcd.data.lock:
            etcd.data.put({"key": _b64(BINDING), "value": _b64("two")})
        for member in etcd.members:
            member.unavailable = False
        wait_for(lambda: mirror.view().kvs[BINDING].value == b"two", timeout=10)
    finally:
        stop.set()


def test_a_mirror_lists_again_when_its_revisions_were_compacted(etcd: Etcd) -> None:
    store = etcd.client()
    store.put(BINDING, "one")
    mirror = Mirror(store, CLUSTER, (keys.BINDINGS,))
    mirror.list_once()
    store.put(BINDING, "two")
    etcd.data.compacted = etcd.data.revision  # what the mirror would watch from is gone
    stop = threading.Event()
    threading.Thread(target=mirror.run, args=(stop,), daemon=True).start()
    try:
        wait_for(lambda: mirror.view().kvs[BINDING].value == b"two")
        etcd.data.compacted = 0
    finally:
        stop.set()


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_lease_is_granted_attached_renewed_and_granted_again_once_expired(
    etcd: Etcd,
) -> None:
    store = etcd.client()
    clock = Clock()
    attached: list[int] = []

    def attach(lease: int) -> bool:
        store.put(NODE, "alive", lease=lease)
        attached.append(lease)
        return True

    kept = KeptLease(store, 3, 1.0, attach, clock=clock)
    assert kept.step() == 1.0 and kept.held and attached == [kept.lease_id]
    first = kept.lease_id
    clock.now += 1
    kept.step()  # a renewal
    assert kept.lease_id == first and kept.held
    etcd.data.expire(first)  # the store let it run out (the node was frozen)
    assert etcd.client().get(NODE) is None
    clock.now += 1
    kept.step()  # the renewal says 0: granted again ...
    kept.step()
    assert kept.lease_id != first and attached[-1] == kept.lease_id and kept.held
    assert etcd.client().get(NODE) is not None  # ... and the key is back


def test_a_lease_not_renewed_within_its_ttl_is_not_held_and_failures_are_told(
    etcd: Etcd,
) -> None:
    store = etcd.client(timeout=0.3, connect_timeout=0.2)
    clock = Clock()
    failed: list[int] = []
    kept = KeptLease(store, 3, 1.0, lambda lease: True, lambda: failed.append(1), clock)
    kept.step()
    assert kept.held
    for member in etcd.members:
        member.unavailable = True
    clock.now += 1
    kept.step()
    assert failed == [1] and kept.held  # not yet run out by our clock
    clock.now += 2.5
    assert not kept.held  # 3 s since the last renewal
    kept.step()  # a grant, which fails too
    assert not kept.held and kept.lease_id == 0


def test_an_attach_that_fails_is_tried_again_on_the_same_lease(etcd: Etcd) -> None:
    store = etcd.client()
    calls: list[int] = []

    def attach(lease: int) -> bool:
        calls.append(lease)
        if len(calls) == 1:
            raise StoreError("no")
        return True

    kept = KeptLease(store, 3, 1.0, attach, clock=Clock())
    kept.step()
    assert not kept.attached and not kept.held
    kept.step()
    assert kept.attached and calls[0] == calls[1]
