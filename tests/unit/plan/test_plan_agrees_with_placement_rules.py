"""The planner and the placement rules the controller will use agree: the same situation
(nodes with labels, capacity, readiness and IP cursors; the pods already placed; pods to
add) gives the same nodes, IPs and cursors, or the same reason for refusing. A rule changed
on one side only fails here."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from plan_builders import replan, web_program

from podplay.dsl import ProgramError, Stack
from podplay.node import placement as rules
from podplay.plan import Capacity, ClusterFacts, NodeFacts, NodePlan, Plan

WEB = ("default", "web")
LABELS = [{}, {"disk": "ssd"}, {"zone": "a"}, {"disk": "ssd", "zone": "a"}]
SELECTORS = [None, {"disk": "ssd"}, {"zone": "a"}, {"zone": "b"}]
REASON_TEXT = {
    rules.NO_READY_NODE: "no node is ready",
    rules.SELECTOR_MATCHES_NO_READY_NODE: "matches no ready node",
    rules.NO_ROOM: "no eligible node has room",
    rules.NO_FREE_IP: "has no free pod IP left",
}


@dataclass(frozen=True)
class Situation:
    nodes: tuple[NodeFacts, ...]
    before: int  # replicas of the first plan
    after: int  # replicas of the second, planned from the first
    cpu: int | None  # each pod's cpu request in millis
    selector: dict[str, str] | None


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    count = draw(st.integers(1, 4))
    nodes = tuple(
        NodeFacts(
            name=f"node{i}",
            labels=draw(st.sampled_from(LABELS)),
            ready=draw(st.integers(0, 9)) > 0,
            capacity=Capacity(
                cpu_millis=draw(st.sampled_from([None, 500, 1000, 2000])),
                pods=draw(st.sampled_from([110, 2, 3])),
            ),
        )
        for i in range(1, count + 1)
    )
    before = draw(st.integers(0, 6))
    return Situation(
        nodes,
        before,
        before + draw(st.integers(1, 6)),
        draw(st.sampled_from([None, 250, 500])),
        draw(st.sampled_from(SELECTORS)),
    )


def program(s: Situation, replicas: int) -> Stack:
    cpu = f"{s.cpu}m" if s.cpu else None
    return web_program(replicas, nodes=len(s.nodes), cpu=cpu, selector=s.selector)


def rules_node(n: NodePlan) -> rules.Node:
    """A node as the controller will describe it (from what the store says)."""
    return rules.Node(
        name=n.name,
        pod_cidr=n.pod_cidr,
        labels=dict(n.labels),
        ready=n.ready,
        cpu_millis=n.capacity.cpu_millis,
        memory_bytes=n.capacity.memory_bytes,
        max_pods=n.capacity.pods,
        last_pod_ip=n.last_pod_ip,
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(situations())
@example(  # the node's /24 runs out of IPs
    Situation((NodeFacts(name="node1", capacity=Capacity(pods=300)),), 250, 254, None, None)
)
@example(  # spread over the ready ssd nodes, the cpu-bound one filling up first
    Situation(
        (
            NodeFacts(name="node1", labels={"disk": "ssd"}, capacity=Capacity(cpu_millis=500)),
            NodeFacts(name="node2"),
            NodeFacts(name="node3", labels={"disk": "ssd"}),
            NodeFacts(name="node4", labels={"disk": "ssd"}, ready=False),
        ),
        2,
        5,
        250,
        {"disk": "ssd"},
    )
)
def test_planner_and_rules_place_the_same(s: Situation) -> None:
    world = ClusterFacts(nodes=list(s.nodes))
    try:
        first: Plan | None = replan(program(s, s.before), facts=world)
    except ProgramError:
        first = None  # nothing placed yet: the second plan places everything
    nodes = first.nodes if first else replan(program(s, 0), facts=world).nodes
    placed = [
        rules.PlacedPod(WEB, p.node, p.ip, rules.Request(cpu_millis=s.cpu or 0))
        for p in (first.pods if first else [])
    ]
    states = rules.node_states([rules_node(n) for n in nodes], placed)
    result = rules.place_pods(
        states, WEB, s.selector or {}, rules.Request(cpu_millis=s.cpu or 0), s.after - len(placed)
    )

    event(result.infeasible.reason if result.infeasible else "placed")
    try:
        second = replan(program(s, s.after), first, world)
    except ProgramError as error:
        assert result.infeasible is not None, f"only the planner refuses: {error}"
        why = result.infeasible
        assert REASON_TEXT[why.reason] in str(error)
        if why.reason != rules.NO_FREE_IP:
            replica = len(placed) + why.index + 1
            assert f"replica {replica} of {s.after} cannot be placed" in str(error)
        return
    assert result.infeasible is None, f"only the rules refuse: {result.infeasible}"
    kept = {p.name for p in first.pods} if first else set()
    created = sorted((p for p in second.pods if p.name not in kept), key=lambda p: p.serial)
    assert [(p.node, p.ip) for p in created] == [(b.node, b.ip) for b in result.bindings]
    assert {n.name: n.last_pod_ip for n in second.nodes} == {s.name: s.last_ip() for s in states}
