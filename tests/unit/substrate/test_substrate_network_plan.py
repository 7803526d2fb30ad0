"""Node-side network plan (pure): routes, PODPLAY-NET chains, bridge settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "network"))
from network_fakes import CFG, DOC  # the three-node network.json of the network tests

from podplay.node.contract.errors import ContractError
from podplay.node.contract.network import NetworkConfig
from podplay.node.network.plan import (
    BridgeState,
    bridge_options,
    plan_bridge,
    plan_iptables,
    plan_routes,
)

NODE_ONLY = "-p tcp -m multiport --dports 22,2379,2380,10250 -j REJECT --reject-with tcp-reset"
# VRRP between the nodes' addresses only (issue 12, item 10), as iptables-save prints it
VRRP_INPUT = (
    "-A PODPLAY-NET-INPUT -i podplay0 -p vrrp -j DROP\n"
    + "".join(f"-A PODPLAY-NET-INPUT -s 172.30.5.{h}/32 -p vrrp -j RETURN\n" for h in (11, 12, 13))
    + "-A PODPLAY-NET-INPUT -p vrrp -j DROP\n"
)
VRRP_FORWARD = "-A PODPLAY-NET-FORWARD -p vrrp -j DROP\n"
CONVERGED_SAVE = f"""\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:DOCKER-USER - [0:0]
:PODPLAY-NET-CANARY - [0:0]
:PODPLAY-NET-FORWARD - [0:0]
:PODPLAY-NET-INPUT - [0:0]
-A INPUT -j PODPLAY-NET-INPUT
-A FORWARD -j PODPLAY-NET-FORWARD
-A FORWARD -j DOCKER-USER
-A DOCKER-USER -j PODPLAY-NET-FORWARD
-A DOCKER-USER -j RETURN
-A PODPLAY-NET-CANARY -j RETURN
{VRRP_FORWARD}-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -d 172.30.5.11/32 {NODE_ONLY}
-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -d 172.30.5.12/32 {NODE_ONLY}
-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -d 172.30.5.13/32 {NODE_ONLY}
-A PODPLAY-NET-FORWARD -d 10.96.0.0/16 -j RETURN
-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -j ACCEPT
-A PODPLAY-NET-FORWARD -d 10.244.0.0/16 -j ACCEPT
-A PODPLAY-NET-INPUT -s 10.244.0.0/16 {NODE_ONLY}
{VRRP_INPUT}COMMIT
*nat
:POSTROUTING ACCEPT [0:0]
:PODPLAY-NET-CANARY - [0:0]
:PODPLAY-NET-POSTROUTING - [0:0]
-A POSTROUTING -j PODPLAY-NET-POSTROUTING
-A PODPLAY-NET-CANARY -j RETURN
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A PODPLAY-NET-POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN
-A PODPLAY-NET-POSTROUTING -s 10.244.0.0/16 -d 10.96.0.0/16 -j RETURN
-A PODPLAY-NET-POSTROUTING -s 10.244.0.0/16 -j MASQUERADE
COMMIT
"""


def test_routes_to_every_other_node_and_stale_ones_removed():
    current = [
        {"dst": "default", "gateway": "172.30.5.1", "dev": "eth0"},
        {"dst": "10.244.1.0/24", "dev": "podplay0", "protocol": "kernel"},
        {"dst": "10.244.2.0/24", "gateway": "172.30.5.99", "dev": "eth0"},  # wrong next hop
        {"dst": "10.244.9.0/24", "gateway": "172.30.5.19", "dev": "eth0"},  # removed node
        {"dst": "192.168.0.0/24", "gateway": "172.30.5.1", "dev": "eth0"},  # not ours
    ]
    plan = plan_routes(CFG, current)
    assert plan.replace == [("10.244.2.0/24", "172.30.5.12"), ("10.244.3.0/24", "172.30.5.13")]
    assert plan.delete == ["10.244.9.0/24"]


def test_converged_routes_plan_nothing():
    current = [
        {"dst": "10.244.2.0/24", "gateway": "172.30.5.12"},
        {"dst": "10.244.3.0/24", "gateway": "172.30.5.13"},
    ]
    assert plan_routes(CFG, current) == ([], [])


def test_fresh_node_gets_both_chains_and_all_jumps_in_one_restore():
    save = "*filter\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\nCOMMIT\n*nat\nCOMMIT\n"
    text, changes = plan_iptables(CFG, save)
    assert text == (
        "*filter\n"
        ":PODPLAY-NET-CANARY - [0:0]\n"
        "-A PODPLAY-NET-CANARY -j RETURN\n"
        ":PODPLAY-NET-FORWARD - [0:0]\n"
        + VRRP_FORWARD
        + "".join(
            f"-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -d 172.30.5.{host}/32 {NODE_ONLY}\n"
            for host in (11, 12, 13)
        )
        + "-A PODPLAY-NET-FORWARD -d 10.96.0.0/16 -j RETURN\n"
        "-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -j ACCEPT\n"
        "-A PODPLAY-NET-FORWARD -d 10.244.0.0/16 -j ACCEPT\n"
        ":PODPLAY-NET-INPUT - [0:0]\n"
        f"-A PODPLAY-NET-INPUT -s 10.244.0.0/16 {NODE_ONLY}\n"
        + VRRP_INPUT
        + "-I INPUT 1 -j PODPLAY-NET-INPUT\n"
        "-I FORWARD 1 -j PODPLAY-NET-FORWARD\n"
        "-I DOCKER-USER 1 -j PODPLAY-NET-FORWARD\n"
        "COMMIT\n"
        "*nat\n"
        ":PODPLAY-NET-CANARY - [0:0]\n"
        "-A PODPLAY-NET-CANARY -j RETURN\n"
        ":PODPLAY-NET-POSTROUTING - [0:0]\n"
        "-A PODPLAY-NET-POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN\n"
        "-A PODPLAY-NET-POSTROUTING -s 10.244.0.0/16 -d 10.96.0.0/16 -j RETURN\n"
        "-A PODPLAY-NET-POSTROUTING -s 10.244.0.0/16 -j MASQUERADE\n"
        "-I POSTROUTING 1 -j PODPLAY-NET-POSTROUTING\n"
        "COMMIT\n"
    )
    assert len(changes) == 9


def test_converged_rules_plan_nothing():
    assert plan_iptables(CFG, CONVERGED_SAVE) == (None, [])


def test_a_drifted_chain_is_rewritten_whole_without_touching_jumps():
    drifted = CONVERGED_SAVE.replace("-A PODPLAY-NET-FORWARD -d 10.244.0.0/16 -j ACCEPT\n", "")
    text, changes = plan_iptables(CFG, drifted)
    assert changes == ["iptables filter chain PODPLAY-NET-FORWARD written"]
    assert "-I " not in text and "*nat" not in text


def test_pods_are_refused_the_nodes_own_ports_on_every_path():
    """INPUT: any local address of this node; FORWARD: every node's address (a pod's traffic
    to another node is masqueraded there, so that node's INPUT sees no pod source), before
    the chain accepts pod traffic."""
    from podplay.node.network.plan import desired_chains

    chains = desired_chains(CFG)
    assert chains[("filter", "PODPLAY-NET-INPUT")][0] == (
        "-A PODPLAY-NET-INPUT -s 10.244.0.0/16 " + NODE_ONLY
    )
    forward = chains[("filter", "PODPLAY-NET-FORWARD")][1:]  # after the VRRP drop
    assert forward[:3] == [
        f"-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -d {node['address']}/32 {NODE_ONLY}"
        for node in DOC["nodes"]
    ]
    assert forward[3:] == [
        "-A PODPLAY-NET-FORWARD -d 10.96.0.0/16 -j RETURN",
        "-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -j ACCEPT",
        "-A PODPLAY-NET-FORWARD -d 10.244.0.0/16 -j ACCEPT",
    ]


def test_a_moved_agent_or_store_port_stays_refused_to_pods():
    """The node-only ports come from network.json (the network role renders them from the
    agent's and the store's port variables), not from a fixed list: an agent API moved to
    10443 is refused from the pod network, and 10250 is then an ordinary port."""
    from podplay.node.network.plan import desired_chains

    moved = NetworkConfig.from_json({**DOC, "node_only_ports": [22, 12379, 12380, 10443]})
    chains = desired_chains(moved)
    refuse = "-p tcp -m multiport --dports 22,10443,12379,12380 -j REJECT --reject-with tcp-reset"
    assert chains[("filter", "PODPLAY-NET-INPUT")][0] == (
        "-A PODPLAY-NET-INPUT -s 10.244.0.0/16 " + refuse
    )
    forward = chains[("filter", "PODPLAY-NET-FORWARD")][1:4]
    assert forward == [
        f"-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -d {node['address']}/32 {refuse}"
        for node in DOC["nodes"]
    ]
    assert "10250" not in str(chains)
    assert CFG.node_only_ports == (22, 2379, 2380, 10250)  # an older network.json: defaults


def test_a_missing_input_jump_is_put_back_alone():
    save = CONVERGED_SAVE.replace("-A INPUT -j PODPLAY-NET-INPUT\n", "")
    text, changes = plan_iptables(CFG, save)
    assert changes == ["iptables filter jump INPUT -> PODPLAY-NET-INPUT added"]
    assert text == "*filter\n-I INPUT 1 -j PODPLAY-NET-INPUT\nCOMMIT\n"


def test_without_docker_user_only_forward_is_jumped():
    save = CONVERGED_SAVE.replace(":DOCKER-USER - [0:0]\n", "").replace(
        "-A DOCKER-USER -j PODPLAY-NET-FORWARD\n-A DOCKER-USER -j RETURN\n", ""
    )
    assert plan_iptables(CFG, save) == (None, [])


def test_bridge_options_follow_the_docker_version():
    assert "com.docker.network.bridge.gateway_mode_ipv4" not in bridge_options(CFG, 20)
    opts = bridge_options(CFG, 28)
    assert opts["com.docker.network.bridge.gateway_mode_ipv4"] == "nat-unprotected"
    assert opts["com.docker.network.bridge.enable_ip_masquerade"] == "false"
    assert opts["com.docker.network.bridge.name"] == "podplay0"


def test_bridge_plan():
    good = BridgeState(True, "10.244.1.0/24", "10.244.1.1", bridge_options(CFG, 20))
    assert plan_bridge(CFG, BridgeState(False), 20) == "create"
    assert plan_bridge(CFG, good, 20) == "ok"
    assert plan_bridge(CFG, good._replace(subnet="10.244.7.0/24"), 20) == "recreate"
    assert plan_bridge(CFG, good, 28) == "recreate"  # engine upgraded: gateway mode missing


@pytest.mark.parametrize(
    "change, message",
    [
        ({"pod_cidr": "10.9.1.0/24"}, "outside"),
        ({"address": "not-an-ip"}, "not-an-ip"),
        ({"nodes": [{"name": "node1"}]}, "nodes\\[0\\].address: missing"),
        ({"node_only_ports": [22, "10250"]}, "node_only_ports: expected a list of TCP ports"),
        ({"node_only_ports": [0]}, "node_only_ports: expected a list of TCP ports"),
        ({"node_only_ports": []}, "node_only_ports: expected a list of TCP ports"),
    ],
)
def test_bad_config_is_reported(change, message):
    with pytest.raises(ContractError, match=message):
        NetworkConfig.from_json({**DOC, **change})


def test_vrrp_is_accepted_from_the_nodes_addresses_only_and_never_forwarded():
    """keepalived's adverts: a pod (NET_RAW) must not reach any node's keepalived, even with
    a forged node address; the chains are written as iptables-save prints them."""
    from podplay.node.network.plan import desired_chains

    chains = desired_chains(CFG)
    vrrp_in = [r for r in chains[("filter", "PODPLAY-NET-INPUT")] if "vrrp" in r]
    assert "\n".join(vrrp_in) + "\n" == VRRP_INPUT
    assert chains[("filter", "PODPLAY-NET-FORWARD")][0] + "\n" == VRRP_FORWARD
