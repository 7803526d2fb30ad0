"""The one decoder of a store snapshot (podplay.node.store.snapshot), shared by the
controller's world and `podplay`'s store view: every kind lands where it belongs, a value
that does not read is noted with its key and left out, other kinds are passed over."""

from __future__ import annotations

from store_builders import CLUSTER, binding, spec

from podplay.node.contract.store import Cursor, Event, NodeLease, NodeStatus, Table
from podplay.node.controller.world import read_world
from podplay.node.store import keys, snapshot
from podplay.node.store.wire import KeyValue

LEASE = NodeLease("node1", "172.30.5.11", "boot", 1.0, "1")
STATUS = NodeStatus("node2", False, 5.0, "NodeLeaseExpired", "")
TABLE = Table(1, "sha", 3.0, 0.0)
WEB = binding(1, "web-a", 2)


def kv(key: str, text: str, revision: int = 4) -> KeyValue:
    return KeyValue(key, text.encode(), revision, revision, 0)


def store_kvs() -> list[KeyValue]:
    return [
        kv(keys.node_key(CLUSTER, "node1"), LEASE.to_text()),
        kv(keys.node_key(CLUSTER, "node3"), '{"node": "node3", "colour": 1}'),
        kv(keys.status_key(CLUSTER, "node2"), STATUS.to_text(), 7),
        kv(keys.binding_key(CLUSTER, "default", "web-a"), WEB.to_text(), 5),
        kv(keys.cursor_key(CLUSTER, "node1"), Cursor("10.244.1.9", None).to_text()),
        kv(keys.nodespec_key(CLUSTER, "node10"), spec(10).to_text()),
        kv(keys.nodespec_key(CLUSTER, "node2"), spec(2).to_text()),
        kv(keys.table_key(CLUSTER), TABLE.to_text()),
        kv(keys.event_key(CLUSTER, 1, "a"), Event(1.0, "Normal", "R", "", "Pod", "", "p", "", "")
           .to_text()),
        kv("/elsewhere/x", "{}"),
    ]  # fmt: skip


def test_each_kind_is_read_into_its_record_with_the_revision_a_write_compares() -> None:
    snap = snapshot.decode(9, store_kvs())
    assert snap.revision == 9 and snap.table == TABLE
    assert snap.leases == {"node1": LEASE}
    assert snap.statuses == {"node2": (STATUS, 7)}
    assert snap.bindings == {("default", "web-a"): (WEB, 5)}
    assert snap.cursors == {"node1": Cursor("10.244.1.9", None)}
    assert list(snap.specs) == ["node2", "node10"]  # the plan's node order, not the keys'


def test_a_value_that_does_not_read_is_noted_and_left_out_but_a_lease_key_still_counts() -> None:
    snap = snapshot.decode(9, store_kvs())
    assert snap.lease_holders == frozenset({"node1", "node3"})  # node3's agent is alive
    assert "node3" not in snap.leases
    assert [key for key, _ in snap.unreadable] == [
        "/elsewhere/x",
        keys.node_key(CLUSTER, "node3"),
    ]
    assert snap.unreadable[1][1] == f"{keys.node_key(CLUSTER, 'node3')}: colour: unknown field"


def test_the_controllers_world_is_the_snapshot() -> None:
    world = read_world(9, {x.key: x for x in store_kvs()})
    snap = snapshot.decode(9, store_kvs())
    assert world.leases == snap.lease_holders and world.bindings == snap.bindings
    assert (world.table, world.specs, world.cursors) == (snap.table, snap.specs, snap.cursors)
    assert world.statuses == snap.statuses
