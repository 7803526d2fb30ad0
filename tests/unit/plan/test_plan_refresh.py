"""Refresh and NotReady planning (pure): the controller's moves written into an applied plan,
after which an unchanged program plans no pod changes; nodes that are NotReady are planned
around, and the preview says which pods go where instead."""

from __future__ import annotations

import pytest
from plan_builders import replan, web_program

from podplay.node.contract.store import Binding, Cursor, Requests
from podplay.plan import ClusterFacts, NodeFacts, Plan, PodPlan, diff
from podplay.plan.refresh import apply_moves


def facts(down: tuple[str, ...] = ()) -> ClusterFacts:
    return ClusterFacts(
        nodes=[
            NodeFacts(
                name=f"node{i}",
                address=f"172.30.9.{10 + i}",
                pod_cidr=f"10.244.{i}.0/24",
                ready=f"node{i}" not in down,
            )
            for i in (1, 2, 3)
        ]
    )


def moved(pod: PodPlan, node: str, ip: str, **fields: object) -> Binding:
    """The Binding the controller writes when it moves `pod` off its node."""
    values: dict[str, object] = {
        "namespace": pod.namespace,
        "name": pod.name,
        "node": node,
        "ip": ip,
        "deployment": pod.deployment,
        "template_hash": pod.template_hash,
        "node_selector": {},
        "requests": Requests(),
        "manifest": {**pod.manifest, "ip": ip},
        "placed_by": "controller",
        "moved_from": pod.node,
        "moved_at": 1700000000.0,
        "reason": "node node2 NotReady for 3 s",
    }
    values.update(fields)
    values["manifest"] = {**pod.manifest, "ip": values["ip"]}
    return Binding(**values)  # type: ignore[arg-type]


@pytest.fixture
def applied() -> Plan:
    return replan(web_program(3), None, facts())


def on(plan: Plan, node: str) -> PodPlan:
    return next(p for p in plan.pods if p.node == node)


def test_a_move_is_written_into_the_plan_and_the_program_replans_without_pod_changes(
    applied: Plan,
) -> None:
    victim = on(applied, "node2")
    taken = {p.ip for p in applied.pods if p.node == "node3"}
    ip = next(f"10.244.3.{i}" for i in range(2, 250) if f"10.244.3.{i}" not in taken)
    cursor = {"node3": Cursor(last_pod_ip=ip, base=applied.nodes[2].last_pod_ip)}
    done = apply_moves(applied, [moved(victim, "node3", ip)], cursor)

    assert [(m.name, m.from_node, m.to_node, m.ip) for m in done.moves] == [
        (victim.name, "node2", "node3", ip)
    ]
    pod = next(p for p in done.plan.pods if p.name == victim.name)
    assert (pod.node, pod.ip, pod.manifest["ip"]) == ("node3", ip, ip)
    assert {k: v for k, v in pod.manifest.items() if k != "ip"} == {
        k: v for k, v in victim.manifest.items() if k != "ip"
    }
    endpoints = {(e.pod, e.node, e.ip) for s in done.plan.services for e in s.endpoints}
    assert (victim.name, "node3", ip) in endpoints
    assert not any(e[0] == victim.name and e[1] == "node2" for e in endpoints)
    assert done.plan.nodes[2].last_pod_ip == ip

    again = replan(web_program(3), done.plan, facts())
    assert [c for c in diff(done.plan, again) if c.kind == "Pod"] == []
    assert again == done.plan  # stable: the moved pod stays where the controller put it
    # against the stale plan, the pod's manifest would differ in its ip alone
    assert [str(c) for c in diff(applied, again)] == [f"~  Pod default/{victim.name}: ip"]


def test_bindings_the_plan_made_or_for_other_pods_are_left_alone(applied: Plan) -> None:
    victim = on(applied, "node2")
    planned = moved(victim, "node3", "10.244.3.200", placed_by="plan")
    stranger = moved(victim, "node3", "10.244.3.201", name="web-unknown")
    same = moved(victim, victim.node, victim.ip)
    done = apply_moves(applied, [planned, stranger, same], {})
    assert done.moves == [] and done.ignored == [] and done.plan == applied


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"template_hash": "other"}, "template other is not the plan's"),
        ({"node": "node9", "ip": "10.244.9.2"}, "node node9 is not in the plan"),
        ({"ip": "10.244.2.77"}, "ip 10.244.2.77 is not a pod address of node3"),
        ({"ip": "10.244.3.255"}, "ip 10.244.3.255 is not a pod address of node3"),
    ],
)
def test_a_move_the_plan_cannot_hold_is_ignored_with_a_reason(
    applied: Plan, fields: dict[str, object], why: str
) -> None:
    victim = on(applied, "node2")
    binding = moved(victim, **{"node": "node3", "ip": "10.244.3.100", **fields})  # type: ignore[arg-type]
    done = apply_moves(applied, [binding], {})
    assert done.moves == [] and done.plan == applied
    [said] = done.ignored
    assert said.startswith(f"binding of pod default/{victim.name}: {why}")
    assert said.endswith("kept as planned")


def test_a_move_onto_an_ip_another_pod_holds_is_ignored(applied: Plan) -> None:
    victim, holder = on(applied, "node2"), on(applied, "node3")
    done = apply_moves(applied, [moved(victim, "node3", holder.ip)], {})
    assert done.moves == [] and f"is held by pod default/{holder.name}" in done.ignored[0]


def test_the_later_cursor_wins(applied: Plan) -> None:
    node3 = applied.nodes[2]
    assert node3.last_pod_ip == "10.244.3.2"
    # the controller went on from the plan's cursor: its cursor is later, even wrapped round
    wrapped = apply_moves(applied, [], {"node3": Cursor("10.244.3.2", None)}).plan
    assert wrapped == applied
    went_on = apply_moves(applied, [], {"node3": Cursor("10.244.3.9", "10.244.3.2")}).plan
    assert went_on.nodes[2].last_pod_ip == "10.244.3.9"
    # a cursor from before the plan's (an up since went further): the plan's stays
    further = node3.model_copy(update={"last_pod_ip": "10.244.3.20"})
    behind = applied.model_copy(update={"nodes": [*applied.nodes[:2], further]})
    older = apply_moves(behind, [], {"node3": Cursor("10.244.3.9", "10.244.3.2")}).plan
    assert older.nodes[2].last_pod_ip == "10.244.3.20"
    # an unrelated base: the higher address
    higher = apply_moves(behind, [], {"node3": Cursor("10.244.3.30", "10.244.3.4")}).plan
    assert higher.nodes[2].last_pod_ip == "10.244.3.30"
    # nonsense is ignored
    outside = apply_moves(applied, [], {"node3": Cursor("10.244.9.9", None)}).plan
    assert outside == applied


# -- NotReady nodes ---------------------------------------------------------------------------


def test_a_not_ready_nodes_pods_go_to_ready_nodes_and_the_preview_says_where(
    applied: Plan,
) -> None:
    stranded = [p for p in applied.pods if p.node == "node2"]
    new = replan(web_program(3), applied, facts(down=("node2",)))
    assert not [p for p in new.pods if p.node == "node2"]
    assert len(new.pods) == 3 and {p.node for p in new.pods} == {"node1", "node3"}
    assert new.nodes[1].ready is False
    changes = {(c.op, c.kind, c.name): c for c in diff(applied, new)}
    assert changes[("~", "Node", "node2")].fields == ["ready"]
    [created] = [c for c in changes.values() if c.op == "+" and c.kind == "Pod"]
    for pod in stranded:
        change = changes[("-", "Pod", pod.name)]
        assert change.fields == ["node node2 NotReady", f"re-created as {created.name} on node1"]
        assert str(change).endswith(
            f"{pod.name}: node node2 NotReady, re-created as {created.name} on node1"
        )


def test_scaling_up_with_a_node_down_places_the_new_pods_on_ready_nodes(applied: Plan) -> None:
    new = replan(web_program(5), applied, facts(down=("node3",)))
    assert {p.node for p in new.pods} == {"node1", "node2"} and len(new.pods) == 5
    ops = sorted((c.op, c.kind) for c in diff(applied, new) if c.kind == "Pod")
    assert ops == [("+", "Pod")] * 3 + [("-", "Pod")]  # 2 to scale up, 1 re-created


def test_a_node_back_changes_no_pod(applied: Plan) -> None:
    around = replan(web_program(3), applied, facts(down=("node2",)))
    back = replan(web_program(3), around, facts())
    assert [c for c in diff(around, back) if c.kind == "Pod"] == []
    assert [(c.op, c.name, c.fields) for c in diff(around, back)] == [("~", "node2", ["ready"])]
