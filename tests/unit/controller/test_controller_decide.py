"""The controller's decision, pure: which node is NotReady since when, which status records
and events to write, and which pods move where after the grace period (the planner's
placement rules: selector, capacity, spread, the next free IP after the cursor)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from store_builders import binding, spec

from podplay.node.contract.store import Binding, Cursor, NodeSpec, NodeStatus, Table
from podplay.node.controller.decide import NodeView, moves, readiness, status_writes
from podplay.node.controller.world import World

T0 = 1000.0
TABLE = Table(1, "sha", 3.0, 0.0)


def world(
    bindings: list[Binding],
    leases: set[str],
    specs: list[NodeSpec] | None = None,
    statuses: dict[str, NodeStatus] | None = None,
    cursors: dict[str, Cursor] | None = None,
    table: Table | None = TABLE,
) -> World:
    specs = specs if specs is not None else [spec(i) for i in (1, 2, 3)]
    return World(
        revision=10,
        table=table,
        specs={s.name: s for s in specs},
        leases=frozenset(leases),
        statuses={n: (s, 7) for n, s in (statuses or {}).items()},
        bindings={b.key: (b, 5) for b in bindings},
        cursors=cursors or {},
    )


PODS = [binding(1, "web-a", 2), binding(2, "web-b", 2), binding(3, "web-c", 2)]
ALL = {"node1", "node2", "node3"}


def views(w: World, now: float, known: dict[str, NodeView] | None = None) -> dict[str, NodeView]:
    return readiness(w, known or {}, now)


def test_a_node_without_a_lease_is_not_ready_since_it_was_first_seen_so() -> None:
    w = world(PODS, ALL - {"node2"})
    first = views(w, T0)
    assert first["node2"] == NodeView("node2", False, T0)
    assert first["node1"].ready
    later = readiness(w, first, T0 + 2)
    assert later["node2"].since == T0  # kept while it stays NotReady
    back = readiness(world(PODS, ALL), later, T0 + 4)
    assert back["node2"] == NodeView("node2", True, T0 + 4)


def test_a_new_leader_takes_since_from_the_stored_status_when_it_agrees() -> None:
    stored = {"node2": NodeStatus("node2", False, T0 - 10, "NodeLeaseExpired", "")}
    w = world(PODS, ALL - {"node2"}, statuses=stored)
    assert views(w, T0)["node2"].since == T0 - 10
    # the stored status says Ready, but the lease is gone: counting starts now
    stored_ready = {"node2": NodeStatus("node2", True, T0 - 10, "NodeLeaseHeld", "")}
    w = world(PODS, ALL - {"node2"}, statuses=stored_ready)
    assert views(w, T0)["node2"].since == T0


def test_status_records_and_events_for_changes_only() -> None:
    w = world(PODS, ALL - {"node2"})
    writes = {s.status.node: s for s in status_writes(w, views(w, T0), T0)}
    assert set(writes) == ALL  # none stored yet
    assert writes["node2"].status.ready is False and writes["node2"].mod_revision == 0
    assert [e.reason for e in writes["node2"].events] == ["NodeNotReady"]
    assert writes["node1"].events == ()  # first seen Ready: no event
    stored = {n: s.status for n, s in writes.items()}
    again = world(PODS, ALL - {"node2"}, statuses=stored)
    assert status_writes(again, views(again, T0 + 1, views(w, T0)), T0 + 1) == []
    healed = world(PODS, ALL, statuses=stored)
    [back] = status_writes(healed, readiness(healed, views(w, T0), T0 + 5), T0 + 5)
    assert back.status.ready and back.mod_revision == 7
    assert [e.reason for e in back.events] == ["NodeReady"]


def test_nothing_moves_before_the_grace_period_and_the_wake_up_is_its_end() -> None:
    w = world(PODS, ALL - {"node2"})
    planned = moves(w, views(w, T0), T0 + 2.9)
    assert planned.moves == [] and planned.wake_at == T0 + 3.0


def test_after_the_grace_period_the_pod_moves_to_the_least_loaded_ready_node() -> None:
    extra = binding(1, "other-a", 3, deployment="other")
    w = world([*PODS, extra], ALL - {"node2"})
    planned = moves(w, views(w, T0), T0 + 3.0)
    [move] = planned.moves
    assert move.old.name == "web-b" and move.mod_revision == 5
    new = move.new
    assert (new.node, new.ip) == ("node3", "10.244.3.3")  # node1 runs more pods
    assert new.manifest["ip"] == "10.244.3.3" and new.manifest["uid"] == "uid-web-b"
    assert (new.placed_by, new.moved_from) == ("controller", "node2")
    assert new.reason == "node node2 NotReady for 3.0s" and new.moved_at == T0 + 3.0
    assert move.cursor == Cursor("10.244.3.3", None)
    assert [(e.kind, e.reason) for e in move.events] == [
        ("Pod", "Rescheduled"),
        ("Deployment", "Rescheduled"),
    ]
    assert "pod web-b moved from node2 to node3" in move.events[0].message


def test_the_next_ip_goes_on_after_the_later_of_plan_and_controller_cursors() -> None:
    specs = [spec(1), spec(2), spec(3, last_pod_ip="10.244.3.5")]
    pods = [*PODS, binding(1, "web-d", 3)]  # node1 is fuller: the pod goes to node3
    w = world(pods, ALL - {"node2"}, specs=specs)
    assert moves(w, views(w, T0), T0 + 5).moves[0].new.ip == "10.244.3.6"
    cursors = {"node3": Cursor("10.244.3.9", "10.244.3.5")}
    w = world(pods, ALL - {"node2"}, specs=specs, cursors=cursors)
    [move] = moves(w, views(w, T0), T0 + 5).moves
    assert move.new.ip == "10.244.3.10" and move.cursor == Cursor("10.244.3.10", "10.244.3.5")


def test_replicas_of_a_dead_node_spread_over_the_survivors() -> None:
    pods = [binding(1, "web-a", 2), binding(2, "web-b", 2), binding(2, "web-c", 3)]
    w = world(pods, ALL - {"node2"})
    targets = sorted(m.new.node for m in moves(w, views(w, T0), T0 + 3).moves)
    assert targets == ["node1", "node3"]  # node3 first (no web pod), then a tie: node order


def test_a_node_selector_is_kept_and_an_infeasible_pod_is_retried_with_a_warning() -> None:
    specs = [spec(1), spec(2, labels={"disk": "ssd"}), spec(3)]
    pods = [binding(2, "web-b", 2, selector={"disk": "ssd"})]
    w = world(pods, ALL - {"node2"}, specs=specs)
    planned = moves(w, views(w, T0), T0 + 3)
    assert planned.moves == []
    [warning] = planned.stuck
    assert warning.type == "Warning" and warning.reason == "FailedRescheduling"
    assert "its node selector matches no Ready node" in warning.message
    assert planned.wake_at == T0 + 3 + 5.0


def test_capacity_counts_the_pods_that_stay() -> None:
    specs = [spec(1, cpu_millis=150), spec(2), spec(3, cpu_millis=150)]
    pods = [binding(1, "web-a", 2), binding(3, "web-c", 2), binding(2, "web-b", 2)]
    w = world(pods, ALL - {"node2"}, specs=specs)
    planned = moves(w, views(w, T0), T0 + 3)
    assert planned.moves == [] and "no Ready node has room" in planned.stuck[0].message


def test_only_deployment_pods_move() -> None:
    bare = binding(2, "bare", 4)._replace(deployment="")
    w = world([*PODS, bare], ALL - {"node2"})
    assert [m.old.name for m in moves(w, views(w, T0), T0 + 3).moves] == ["web-b"]


def test_nothing_moves_while_fewer_than_half_of_the_nodes_are_ready() -> None:
    w = world(PODS, {"node1"})
    planned = moves(w, views(w, T0), T0 + 10)
    assert planned.moves == [] and planned.held_back == "only 1 of 3 nodes are Ready"
    two = [spec(1), spec(2)]
    w = world(PODS[:2], {"node1"}, specs=two)
    assert len(moves(w, views(w, T0), T0 + 3).moves) == 1  # half of two is enough


def test_nothing_moves_before_the_binding_table_exists() -> None:
    w = world(PODS, ALL - {"node2"}, table=None)
    assert moves(w, views(w, T0), T0 + 100).moves == []


def test_the_grace_period_is_the_tables() -> None:
    w = world(PODS, ALL - {"node2"}, table=Table(1, "s", 10.0, 0.0))
    assert moves(w, views(w, T0), T0 + 9).moves == []
    assert len(moves(w, views(w, T0), T0 + 10).moves) == 1
