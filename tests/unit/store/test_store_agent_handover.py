"""An agent restarted alone hands its node key over to a longer lease, so a slow start does
not make the node NotReady (and the controller move its pods)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from store_builders import CLUSTER, Etcd

from podplay.node.agent.storelink import StoreLink, put_with_new_lease
from podplay.node.contract import defaults
from podplay.node.contract.store import NodeLease
from podplay.node.store import keys
from podplay.node.store.lease import KeptLease


@pytest.fixture
def etcd():
    cluster = Etcd()
    yield cluster
    cluster.stop()


def lease_of(etcd: Etcd, key: str) -> int:
    return int(etcd.data.kvs[key.encode()]["lease"])


def test_the_key_moves_to_a_lease_of_its_own(etcd):
    store = etcd.client()
    key = keys.node_key(CLUSTER, "node1")
    short = store.lease_grant(3)
    store.put(key, "{}", lease=short.id)
    assert put_with_new_lease(store, key, '{"node": "node1"}', 10)
    long = lease_of(etcd, key)
    assert long != short.id and etcd.data.leases[long] == 10
    etcd.data.expire(short.id)  # the stopped agent's lease runs out: the key stays
    assert key.encode() in etcd.data.kvs


def test_a_store_that_does_not_answer_is_no_error(etcd):
    store = etcd.client(timeout=0.3, connect_timeout=0.2)
    etcd.stop()
    assert not put_with_new_lease(store, keys.node_key(CLUSTER, "node1"), "{}", 10)


def test_hand_over_stops_the_short_lease_first(etcd):
    link = StoreLink.__new__(StoreLink)  # its parts built here, against the fake store
    link.cfg = SimpleNamespace(cluster=CLUSTER)
    link.node = "node1"
    store = etcd.client()
    link._record = NodeLease("node1", "172.30.5.11", "boot", 1.0, "v")
    key = keys.node_key(CLUSTER, "node1")
    link.lease = KeptLease(store, 3, 0.05, lambda lid: bool(store.put(key, "{}", lease=lid)))
    link._lease_thread = None
    stop = threading.Event()
    link.start_lease(stop)
    for _ in range(100):
        if link.lease.held:
            break
        stop.wait(0.02)
    assert link.lease.held
    assert link.hand_over()
    assert stop.is_set()
    assert etcd.data.leases[lease_of(etcd, key)] == defaults.NODE_RESTART_GRACE
