"""Subnet choice and cluster layout (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from podplay.errors import EnvironmentProblem
from podplay.substrate import addressing

N = ipaddress.IPv4Network


def test_first_free_subnet_skips_overlaps_with_networks_and_routes():
    used = [N("172.17.0.0/16"), N("172.30.0.0/24"), N("172.30.1.128/25"), N("10.0.0.0/8")]
    assert addressing.choose_subnet(used) == N("172.30.2.0/24")


def test_a_wide_route_over_the_whole_space_leaves_nothing():
    with pytest.raises(EnvironmentProblem, match="no free /24"):
        addressing.choose_subnet([N("172.16.0.0/12")])


def test_skip_list_lets_a_loser_of_a_race_take_the_next_subnet():
    assert addressing.choose_subnet([], skip=[N("172.30.0.0/24")]) == N("172.30.1.0/24")


def test_plan_layout():
    plan = addressing.plan_cluster("dev", 3, N("172.30.5.0/24"))
    assert plan.network == "podplay-dev"
    assert plan.gateway == "172.30.5.1"
    assert plan.ip_range == "172.30.5.0/25"
    assert [(n.name, n.container, n.volume, n.address, n.pod_cidr) for n in plan.nodes] == [
        ("node1", "dev-node1", "dev-node1-docker", "172.30.5.11", "10.244.1.0/24"),
        ("node2", "dev-node2", "dev-node2-docker", "172.30.5.12", "10.244.2.0/24"),
        ("node3", "dev-node3", "dev-node3-docker", "172.30.5.13", "10.244.3.0/24"),
    ]


def test_lb_pool_is_the_top_sixteen_below_broadcast_and_clear_of_nodes():
    plan = addressing.plan_cluster("dev", 100, N("172.30.5.0/24"))
    assert plan.lb_pool[0] == "172.30.5.239" and plan.lb_pool[-1] == "172.30.5.254"
    assert len(set(plan.lb_pool)) == 16
    node_ips = {n.address for n in plan.nodes}
    assert not node_ips & set(plan.lb_pool)
    assert all(ipaddress.ip_address(a) in N(plan.ip_range) for a in node_ips)
    assert not any(ipaddress.ip_address(a) in N(plan.ip_range) for a in plan.lb_pool)


def test_pod_cidr_is_the_index_th_slash_24():
    assert addressing.pod_cidr(1) == "10.244.1.0/24"
    assert addressing.pod_cidr(255) == "10.244.255.0/24"
    with pytest.raises(ValueError):
        addressing.pod_cidr(256)


def test_the_programs_pod_and_service_cidrs_shape_the_layout():
    plan = addressing.plan_cluster("dev", 2, N("172.30.5.0/24"), "10.200.0.0/16", "10.97.0.0/16")
    assert [n.pod_cidr for n in plan.nodes] == ["10.200.1.0/24", "10.200.2.0/24"]
    assert (plan.pod_cidr, plan.service_cidr, plan.dns_ip) == (
        "10.200.0.0/16",
        "10.97.0.0/16",
        "10.97.0.10",
    )


def test_a_pod_cidr_inside_the_node_subnet_space_is_skipped():
    # a program's pod_cidr of 172.30.0.0/20 must not share addresses with the node network
    assert addressing.choose_subnet([], skip=[N("172.30.0.0/20")]) == N("172.30.16.0/24")


@pytest.mark.parametrize(
    ("pods", "services", "nodes", "words"),
    [
        ("10.244.0.0/24", "10.96.0.0/16", 1, "no /24 for each"),
        ("10.244.0.0/23", "10.96.0.0/16", 2, "no /24 for each"),
        ("10.244.0.0/16", "10.244.128.0/20", 3, "overlaps"),
        ("10.244.0.0/33", "10.96.0.0/16", 3, "not an IPv4 network"),
    ],
)
def test_bad_cidrs_are_refused_before_anything_is_made(pods, services, nodes, words):
    from podplay.errors import UserInputError
    from podplay.substrate.model import validate_cidrs

    with pytest.raises(UserInputError, match=words):
        validate_cidrs(pods, services, nodes)
