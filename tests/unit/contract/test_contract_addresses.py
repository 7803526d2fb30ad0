"""The pod address rule of a node's pod CIDR: .1 the gateway, .2 to broadcast - 1 pods."""

from __future__ import annotations

import pytest

from podplay.node import placement
from podplay.node.agent.manifest import _ip_problem
from podplay.node.contract import addresses
from podplay.node.contract.network import NetworkConfig

CIDR = "10.244.1.0/24"


def test_the_gateway_is_the_first_host() -> None:
    assert addresses.gateway(CIDR) == "10.244.1.1"
    assert addresses.gateway("10.244.1.0/30") == "10.244.1.1"


@pytest.mark.parametrize(
    ("ip", "offset", "problem"),
    [
        ("10.244.1.0", None, addresses.RESERVED),
        ("10.244.1.1", None, addresses.GATEWAY),
        ("10.244.1.2", 2, None),
        ("10.244.1.254", 254, None),
        ("10.244.1.255", None, addresses.RESERVED),
        ("10.244.2.5", None, addresses.OUTSIDE),
    ],
)
def test_pod_addresses_are_2_to_broadcast_minus_1(ip: str, offset: int, problem: str) -> None:
    assert addresses.pod_offset(CIDR, ip) == offset
    assert addresses.problem(CIDR, ip) == problem


def test_anything_else_is_no_pod_address() -> None:
    assert addresses.pod_offset(CIDR, None) is None
    assert addresses.pod_offset(CIDR, "") is None
    assert addresses.pod_offset(CIDR, "not-an-ip") is None
    assert addresses.offset_in(CIDR, "10.244.1.255") == 255
    assert addresses.offset_in(CIDR, "10.244.0.255") is None
    with pytest.raises(ValueError):
        addresses.problem(CIDR, "not-an-ip")


def test_sizes_and_addresses() -> None:
    assert addresses.last_pod_offset(CIDR) == 254
    assert addresses.pod_address_count(CIDR) == 253
    assert addresses.pod_address_count("10.244.1.0/30") == 1
    assert addresses.pod_address_count("10.244.1.0/31") == 0
    assert addresses.address(CIDR, 7) == "10.244.1.7"


def test_placement_the_agent_and_network_json_follow_the_one_rule() -> None:
    """A /30 has one pod address (.2): placement hands out exactly that one, the agent
    accepts only it, and the bridge's gateway is the rule's."""
    node = placement.Node("n1", "10.244.9.0/30", {}, True, None, None, 110)
    state = placement.NodeState(node, 0)
    assert [state.take_ip(), state.take_ip()] == ["10.244.9.2", None]
    assert _ip_problem("10.244.9.2", "10.244.9.0/30") is None
    assert "the gateway" in (_ip_problem("10.244.9.1", "10.244.9.0/30") or "")
    doc = {"node": "n1", "address": "172.30.5.11", "pod_cidr": CIDR, "nodes": []}
    assert NetworkConfig.from_json(doc).gateway == addresses.gateway(CIDR)
