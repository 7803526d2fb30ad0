"""The controller against a fake etcd, turn by turn with a fake clock: one leader at a time,
a deposed leader's writes fail (the fence), a dead node's pods move after the grace period
and nothing else changes, a returning agent keeps its pods, and a clean stop hands over."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from store_builders import CLUSTER, Etcd, desired, pod

from podplay.node.contract.store import Binding, Cursor, Event, NodeStatus
from podplay.node.controller.loop import Controller
from podplay.node.store import Store, keys
from podplay.node.store.table import apply_table

T0 = 5000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    cluster = Etcd()
    yield cluster
    cluster.stop()


PODS = {
    "node1": [pod("web-a", "10.244.1.2")],
    "node2": [pod("web-b", "10.244.2.2")],
    "node3": [pod("web-c", "10.244.3.2")],
}


def cluster_with_table(etcd: Etcd, alive: tuple[str, ...] = ("node1", "node3")) -> Store:
    store = etcd.client()
    apply_table(store, desired(PODS), check=False, diff=False)
    for node in alive:
        store.put(keys.node_key(CLUSTER, node), f'{{"node": "{node}", "address": "a"}}')
    return store


def controller(etcd: Etcd, node: str, clock: Clock) -> Controller:
    c = Controller(etcd.client(), CLUSTER, node, clock=clock)
    c.leadership.kept.step()  # the leadership lease (its thread does this in service)
    return c


def turn(c: Controller) -> float:
    c.mirror.list_once()  # what the mirror's watch does in service
    return c.turn()


def binding_of(store: Store, name: str) -> Binding:
    kv = store.get(keys.binding_key(CLUSTER, "default", name))
    assert kv is not None
    return Binding.from_bytes(kv.value, name)


def events(store: Store) -> list[Event]:
    found = store.get_prefix(keys.events_prefix(CLUSTER)).kvs
    return [Event.from_bytes(kv.value, kv.key) for kv in found]


def test_one_leader_at_a_time(etcd: Etcd) -> None:
    cluster_with_table(etcd)
    clock = Clock()
    a, b = controller(etcd, "node1", clock), controller(etcd, "node3", clock)
    turn(a)
    turn(b)
    assert a.leadership.leading and not b.leadership.leading
    leader = etcd.client().get(keys.leader_key(CLUSTER))
    assert leader is not None and leader.lease == a.leadership.kept.lease_id


def test_a_dead_nodes_pod_moves_after_the_grace_period_and_nothing_else_changes(
    etcd: Etcd,
) -> None:
    store = cluster_with_table(etcd)
    clock = Clock()
    c = controller(etcd, "node1", clock)
    assert turn(c) <= 1.0
    status = store.get(keys.status_key(CLUSTER, "node2"))
    assert status is not None
    assert NodeStatus.from_bytes(status.value, "s") == NodeStatus(
        "node2", False, T0, "NodeLeaseExpired", "no lease from the node's agent"
    )
    assert binding_of(store, "web-b").node == "node2"  # not yet: within the grace period
    clock.now = T0 + 3.0
    turn(c)
    moved = binding_of(store, "web-b")
    assert (moved.node, moved.ip, moved.placed_by, moved.moved_from) == (
        "node1", "10.244.1.3", "controller", "node2"
    )  # fmt: skip
    assert binding_of(store, "web-a").placed_by == "plan"  # the others stay as planned
    assert binding_of(store, "web-c").node == "node3"
    cursor = store.get(keys.cursor_key(CLUSTER, "node1"))
    assert cursor is not None and Cursor.from_bytes(cursor.value, "c").last_pod_ip == "10.244.1.3"
    reasons = sorted((e.kind, e.reason) for e in events(store))
    assert reasons == [("Deployment", "Rescheduled"), ("Node", "NodeNotReady"),
                       ("Pod", "Rescheduled")]  # fmt: skip
    before = etcd.data.revision
    clock.now = T0 + 10
    turn(c)
    assert etcd.data.revision == before  # settled: nothing more to write


def test_a_deposed_leader_cannot_write(etcd: Etcd) -> None:
    store = cluster_with_table(etcd)
    clock = Clock()
    a, b = controller(etcd, "node1", clock), controller(etcd, "node3", clock)
    turn(a)
    etcd.data.expire(a.leadership.kept.lease_id)  # a was cut off; its lease ran out
    turn(b)
    assert b.leadership.leading
    clock.now = T0 + 3
    a.views = {}
    world_before = etcd.data.revision
    a.mirror.list_once()
    a.turn()  # a still believes it leads (its clock), but every write is fenced
    assert store.get(keys.status_key(CLUSTER, "node2")) is not None  # b's
    assert all(e.source == "controller" for e in events(store))
    changed = [h for h in etcd.data.history if int(h["kv"]["mod_revision"]) > world_before]
    assert changed == []


def test_an_agent_that_comes_back_before_the_move_keeps_its_pod(etcd: Etcd) -> None:
    store = cluster_with_table(etcd)
    clock = Clock()
    c = controller(etcd, "node1", clock)
    turn(c)
    clock.now = T0 + 3
    c.mirror.list_once()
    store.put(keys.node_key(CLUSTER, "node2"), '{"node": "node2", "address": "a"}')
    c.turn()  # decided from a mirror without node2's lease: the move's transaction says no
    assert binding_of(store, "web-b").node == "node2"
    turn(c)
    status = store.get(keys.status_key(CLUSTER, "node2"))
    assert status is not None and NodeStatus.from_bytes(status.value, "s").ready


def test_a_new_leader_continues_the_count_from_the_stored_status(etcd: Etcd) -> None:
    store = cluster_with_table(etcd)
    clock = Clock()
    a = controller(etcd, "node1", clock)
    turn(a)  # node2 NotReady since T0, recorded
    a.leadership.resign()
    b = controller(etcd, "node3", clock)
    clock.now = T0 + 3
    turn(b)
    assert b.leadership.leading
    assert binding_of(store, "web-b").node != "node2"  # no fresh 3 s for the new leader


def test_a_clean_stop_gives_the_leadership_up(etcd: Etcd) -> None:
    cluster_with_table(etcd)
    clock = Clock()
    a = controller(etcd, "node1", clock)
    turn(a)
    a.leadership.resign()
    assert etcd.client().get(keys.leader_key(CLUSTER)) is None
    assert not a.leadership.leading


def test_without_quorum_the_leader_does_nothing(etcd: Etcd) -> None:
    store = cluster_with_table(etcd)
    clock = Clock()
    c = Controller(etcd.client(timeout=0.3, connect_timeout=0.2), CLUSTER, "node1", clock=clock)
    c.leadership.kept.step()
    turn(c)
    revision = etcd.data.revision
    for member in etcd.members:
        member.unavailable = True
    clock.now = T0 + 3
    c.leadership.kept.step()  # the renewal fails: it steps down at once
    assert not c.leadership.leading
    assert c.turn() == 1.0
    for member in etcd.members:
        member.unavailable = False
    assert etcd.data.revision == revision and binding_of(store, "web-b").node == "node2"
