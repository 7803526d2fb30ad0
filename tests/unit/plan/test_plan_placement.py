"""Placement and stability: spread, selectors, capacity, scaling, replacement, readiness."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from plan_builders import pods_of, replan, web_program

import podplay as pp
from podplay.dsl import ProgramError
from podplay.plan import Capacity, ClusterFacts, NodeFacts, Plan, diff, stages


def facts(n: int, **kwargs: object) -> ClusterFacts:
    return ClusterFacts(
        nodes=[
            NodeFacts(name=f"node{i}", address=f"172.30.0.{10 + i}", **kwargs)  # type: ignore[arg-type]
            for i in range(1, n + 1)
        ]
    )


def test_replicas_spread_one_per_node_then_by_node_order() -> None:
    result = replan(web_program(4))
    assert Counter(node for node, _ in pods_of(result).values()) == {
        "node1": 2,
        "node2": 1,
        "node3": 1,
    }
    first = sorted(result.pods, key=lambda p: p.serial)
    assert [p.node for p in first] == ["node1", "node2", "node3", "node1"]
    assert [p.ip for p in first] == ["10.244.1.2", "10.244.2.2", "10.244.3.2", "10.244.1.3"]


def test_unchanged_program_replans_to_the_same_plan_even_through_json() -> None:
    stack = web_program(5)
    first = replan(stack)
    again = replan(stack, Plan.from_json(first.to_json()))
    assert again == first
    assert again.to_json() == first.to_json()
    assert again.rollout == []


def test_scaling_up_adds_pods_and_moves_none() -> None:
    before = replan(web_program(3))
    after = replan(web_program(5), before)
    old, new = pods_of(before), pods_of(after)
    assert len(new) == 5
    assert {name: new[name] for name in old} == old
    assert after.rollout == []


def test_scaling_down_removes_the_newest() -> None:
    before = replan(web_program(5))
    after = replan(web_program(3), before)
    by_serial = sorted(before.pods, key=lambda p: p.serial)
    assert set(pods_of(after)) == {p.name for p in by_serial[:3]}
    assert after.deployments[0].next_serial == 5


def test_scaling_down_then_up_never_reuses_a_name() -> None:
    five = replan(web_program(5))
    three = replan(web_program(3), five)
    five_again = replan(web_program(5), three)
    assert not (set(pods_of(five_again)) - set(pods_of(three))) & set(pods_of(five))


def test_scaling_down_then_straight_back_up_never_reuses_a_released_ip() -> None:
    """The removed pods may still be stopping (their grace period) when the scale back up
    runs: a new pod given one of their IPs would fail on 'Address already in use'."""
    five = replan(web_program(5))
    three = replan(web_program(3), five)
    five_again = replan(web_program(5), Plan.from_json(three.to_json()))
    released = set(pods_of(five).values()) - set(pods_of(three).values())
    added = set(pods_of(five_again).values()) - set(pods_of(three).values())
    assert len(released) == len(added) == 2
    assert not released & added
    assert replan(web_program(5), five_again) == five_again  # the cursor itself is stable


def test_a_plan_without_ip_cursors_goes_on_after_its_highest_ip_and_diffs_clean() -> None:
    """A plan an older podplay wrote has no `last_pod_ip`: allocation continues after the
    highest IP it holds on each node, and the cursor appearing is no change to preview."""
    three = replan(web_program(3))
    assert [n.last_pod_ip for n in three.nodes] == ["10.244.1.2", "10.244.2.2", "10.244.3.2"]
    doc = json.loads(three.to_json())
    for node in doc["nodes"]:
        del node["last_pod_ip"]
    older = Plan.model_validate(doc)
    again = replan(web_program(3), older)
    assert again == three
    assert diff(older, again) == []
    five = replan(web_program(5), older)
    assert sorted(set(pods_of(five).values()) - set(pods_of(three).values())) == [
        ("node1", "10.244.1.3"),
        ("node2", "10.244.2.3"),
    ]


def test_pod_ips_wrap_round_the_node_cidr_to_the_lowest_free() -> None:
    """After .254 the allocation goes on at the lowest free address of the /24."""
    plans = [replan(web_program(1, nodes=1))]
    for version in range(260):  # each new template takes the next IP on node1
        plans.append(replan(web_program(1, nodes=1, env={"V": str(version)}), plans[-1]))
    ips = [p.pods[0].ip for p in plans]
    assert ips[:3] == ["10.244.1.2", "10.244.1.3", "10.244.1.4"]
    assert ips[252:256] == ["10.244.1.254", "10.244.1.2", "10.244.1.3", "10.244.1.4"]


def test_a_changed_template_replaces_pods_in_a_planned_order() -> None:
    before = replan(web_program(3))
    after = replan(web_program(3, env={"MODE": "v2"}), before)
    old = sorted(before.pods, key=lambda p: p.serial)
    new = sorted(after.pods, key=lambda p: p.serial)
    assert after.deployments[0].template_hash != before.deployments[0].template_hash
    assert not set(pods_of(after)) & set(pods_of(before))
    assert [(s.action, s.pods) for s in after.rollout] == [
        ("create", [new[0].name]),
        ("delete", [old[0].name]),
        ("create", [new[1].name]),
        ("delete", [old[1].name]),
        ("create", [new[2].name]),
        ("delete", [old[2].name]),
    ]
    old_ips = {(p.node, p.ip) for p in old}
    assert not old_ips & {(p.node, p.ip) for p in new}, "old and new pods coexist: IPs differ"


def test_max_unavailable_lets_a_rollout_delete_first() -> None:
    before = replan(web_program(4))
    strategy = pp.RollingUpdate(max_surge=0, max_unavailable=2)
    after = replan(web_program(4, env={"MODE": "v2"}, strategy=strategy), before)
    assert [(s.action, len(s.pods)) for s in after.rollout] == [
        ("delete", 2),
        ("create", 2),
        ("delete", 2),
        ("create", 2),
    ]


def test_stages_walk_from_the_old_pods_to_the_plan() -> None:
    before = replan(web_program(2))
    after = replan(web_program(2, env={"MODE": "v2"}), before)
    steps = stages(before, after)
    # create, then (drain the first old one while the second new one starts: it stays bound
    # one stage more), then remove both old ones (the last drained first, on the nodes)
    assert [s.action for s in after.rollout] == ["create", "delete", "create", "delete"]
    counts = [len(s.pods) for s in steps]
    assert counts == [2, 3, 4, 2]
    assert steps[-1] == after
    service = next(s for s in steps[1].services if s.name == "web")
    assert len(service.endpoints) == 3, "old and new pods are both endpoints mid-rollout"
    service = next(s for s in steps[2].services if s.name == "web")
    draining = set(after.rollout[1].pods)
    assert len(service.endpoints) == 3 and not {e.pod for e in service.endpoints} & draining
    assert draining <= {p.name for p in steps[2].pods}, "bound until the stage after"


def test_node_selector_limits_nodes() -> None:
    world = ClusterFacts(
        nodes=[
            NodeFacts(name="node1", labels={"disk": "ssd"}),
            NodeFacts(name="node2"),
            NodeFacts(name="node3", labels={"disk": "ssd"}),
        ]
    )
    result = replan(web_program(4, selector={"disk": "ssd"}), facts=world)
    assert Counter(n for n, _ in pods_of(result).values()) == {"node1": 2, "node3": 2}


def test_cpu_requests_respect_capacity() -> None:
    world = facts(3, capacity=Capacity(cpu_millis=1000))
    result = replan(web_program(6, cpu="500m"), facts=world)
    assert Counter(n for n, _ in pods_of(result).values()) == {"node1": 2, "node2": 2, "node3": 2}
    with pytest.raises(ProgramError, match=r"replica 7 of 7 cannot be placed: each pod requests"):
        replan(web_program(7, cpu="500m"), facts=world)


def test_pod_count_capacity() -> None:
    world = facts(2, capacity=Capacity(pods=2))
    assert len(replan(web_program(4, nodes=2), facts=world).pods) == 4
    with pytest.raises(ProgramError, match="cannot be placed"):
        replan(web_program(5, nodes=2), facts=world)


def test_pods_on_a_node_that_is_not_ready_move_elsewhere() -> None:
    before = replan(web_program(3), facts=facts(3))
    down = ClusterFacts(
        nodes=[n.model_copy(update={"ready": n.name != "node2"}) for n in facts(3).nodes]
    )
    after = replan(web_program(3), before, down)
    nodes = [node for node, _ in pods_of(after).values()]
    assert "node2" not in nodes and len(nodes) == 3
    kept = {k: v for k, v in pods_of(before).items() if v[0] != "node2"}
    assert {k: pods_of(after)[k] for k in kept} == kept


def test_zero_replicas_plans_no_pods() -> None:
    result = replan(web_program(0))
    assert result.pods == [] and result.deployments[0].pods == []
    assert next(s for s in result.services if s.name == "web").endpoints == []


def test_manifest_has_the_node_readme_shape() -> None:
    pod = replan(web_program(1)).pods[0]
    assert list(pod.manifest) == [
        "apiVersion",
        "kind",
        "name",
        "namespace",
        "uid",
        "labels",
        "owner",
        "template_hash",
        "ip",
        "hostname",
        "restart_policy",
        "termination_grace_period",
        "dns",
        "containers",
    ]
    container = pod.manifest["containers"][0]
    assert list(container) == [
        "name",
        "image",
        "image_id",
        "command",
        "args",
        "env",
        "ports",
        "resources",
        "readiness",
        "liveness",
        "startup",
    ]
    assert pod.manifest["hostname"] == pod.name and pod.manifest["ip"] == pod.ip
    assert pod.manifest["dns"]["nameservers"] == ["10.96.0.10"]
    assert pod.name.startswith(f"web-{pod.template_hash}-") and len(pod.name) == 4 + 10 + 6
