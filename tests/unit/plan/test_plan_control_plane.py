"""The control plane in the plan: which nodes are the store's members, and node_grace; and
how the inventories (podplay's and a user's) carry the members as group `control_plane`."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml
from plan_builders import replan, stack_of

import podplay as pp
from podplay.dsl import ProgramError
from podplay.plan import ClusterFacts, NodeFacts
from podplay.plan.facts import facts_from_inventory
from podplay.render.inventory import inventory
from podplay.substrate import addressing
from podplay.substrate import inventory as local_inventory


def members(build) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.name for n in replan(stack_of(build)).control_plane()]


@pytest.mark.parametrize(("nodes", "expected"), [(1, 1), (2, 1), (3, 3), (4, 3), (7, 3)])
def test_default_is_three_members_from_three_nodes_else_one(nodes: int, expected: int) -> None:
    chosen = members(lambda: pp.Cluster("dev", nodes=nodes))
    assert chosen == [f"node{i}" for i in range(1, expected + 1)]


def test_the_count_asked_for_takes_the_first_nodes() -> None:
    assert members(lambda: pp.Cluster("dev", nodes=5, control_plane=5)) == [
        "node1", "node2", "node3", "node4", "node5",
    ]  # fmt: skip
    assert members(lambda: pp.Cluster("dev", nodes=4, control_plane=1)) == ["node1"]


def test_marked_hosts_are_the_members_in_node_order() -> None:
    def build() -> None:
        pp.Cluster(
            "prod",
            nodes=[
                pp.Node("a", "192.0.2.11"),
                pp.Node("b", "192.0.2.12", control_plane=True),
                pp.Node("c", "192.0.2.13"),
            ],
        )

    assert members(build) == ["b"]


def test_an_inventory_group_names_the_members() -> None:
    data = yaml.safe_load(
        """
all:
  children:
    nodes:
      hosts:
        lab-a: {ansible_host: 192.0.2.21}
        lab-b: {ansible_host: 192.0.2.22}
        lab-c: {ansible_host: 192.0.2.23}
        lab-d: {ansible_host: 192.0.2.24}
    control_plane:
      hosts: {lab-d: {}}
"""
    )
    facts = facts_from_inventory(data)
    assert [n.control_plane for n in facts.nodes] == [False, False, False, True]
    stack = stack_of(lambda: pp.Cluster("lab", inventory="hosts.yml"))
    assert [n.name for n in replan(stack, facts=facts).control_plane()] == ["lab-d"]
    with pytest.raises(ProgramError, match="control_plane 3 but the inventory puts 1 host"):
        replan(stack_of(lambda: pp.Cluster("lab", inventory="x.yml", control_plane=3)), None, facts)


def test_an_inventory_group_of_two_hosts_is_refused() -> None:
    facts = ClusterFacts(
        nodes=[NodeFacts(name=n, address=f"192.0.2.{i}", control_plane=i < 3) for i, n in
               enumerate(["a", "b", "c"], 1)]
    )  # fmt: skip
    stack = stack_of(lambda: pp.Cluster("lab", inventory="hosts.yml"))
    with pytest.raises(ProgramError, match="inventory puts 2 hosts in group control_plane"):
        replan(stack, facts=facts)


def test_a_local_cluster_follows_the_program_not_its_inventory() -> None:
    facts = ClusterFacts(
        nodes=[NodeFacts(name=f"node{i}", address=f"172.30.0.1{i}", control_plane=True,
                         pod_cidr=f"10.244.{i}.0/24") for i in (1, 2, 3)]
    )  # fmt: skip
    stack = stack_of(lambda: pp.Cluster("dev", nodes=3, control_plane=1))
    assert [n.name for n in replan(stack, facts=facts).control_plane()] == ["node1"]


def test_node_grace_is_planned_and_replanning_is_stable() -> None:
    stack = stack_of(lambda: pp.Cluster("dev", nodes=3, node_grace=1.5))
    first = replan(stack)
    assert first.cluster.node_grace == 1.5
    assert replan(stack, first) == first
    assert replan(stack_of(lambda: pp.Cluster("dev", nodes=1))).cluster.node_grace == 3.0


def test_the_rendered_inventory_has_group_control_plane_inside_nodes() -> None:
    p = replan(stack_of(lambda: pp.Cluster("dev", nodes=4)))
    data = yaml.safe_load(inventory(p, "app.py"))
    group = data["all"]["children"]["nodes"]
    assert list(group["hosts"]) == ["node1", "node2", "node3", "node4"]
    assert list(group["children"]["control_plane"]["hosts"]) == ["node1", "node2", "node3"]
    for i, name in enumerate(group["hosts"], 1):  # addresses, as a created cluster has them
        group["hosts"][name] = {"ansible_host": f"172.30.0.1{i}"}
    assert [n.control_plane for n in facts_from_inventory(data).nodes] == [True, True, True, False]


def test_the_local_cluster_inventory_has_the_members_and_the_pki_dir() -> None:
    plan = addressing.plan_cluster("shop", 4, ipaddress.IPv4Network("172.30.7.0/24"))
    kwargs = {"ssh_key": Path("/h/id"), "pki_dir": Path("/h/clusters/shop/pki")}
    data = yaml.safe_load(local_inventory.render_inventory(plan, **kwargs))  # type: ignore[arg-type]
    assert data["all"]["vars"]["podplay_pki_dir"] == "/h/clusters/shop/pki"
    group = data["all"]["children"]["nodes"]["children"]["control_plane"]["hosts"]
    assert list(group) == ["node1", "node2", "node3"]
    one = local_inventory.inventory_data(plan, ssh_key=Path("/h/id"), control_plane=1)
    assert list(one["all"]["children"]["nodes"]["children"]["control_plane"]["hosts"]) == ["node1"]
