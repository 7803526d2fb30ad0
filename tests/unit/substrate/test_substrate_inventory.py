"""The generated inventory follows the collection's role-variable contract."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml

from podplay.substrate import addressing, inventory


def render() -> dict:
    plan = addressing.plan_cluster("shop", 2, ipaddress.IPv4Network("172.30.7.0/24"))
    text = inventory.render_inventory(
        plan,
        ssh_key=Path("/h/clusters/shop/id_ed25519"),
        token_file=Path("/h/clusters/shop/token"),
        node_bundle=Path("/h/cache/podplay-node-abc.pyz"),
        control_path_dir=Path("/h/clusters/shop/cp"),
    )
    assert text.startswith("# Inventory of local podplay cluster 'shop'")
    return yaml.safe_load(text)


def test_cluster_wide_vars():
    v = render()["all"]["vars"]
    assert v["podplay_cluster_name"] == "shop"
    assert v["podplay_pod_cidr"] == "10.244.0.0/16"
    assert v["podplay_service_cidr"] == "10.96.0.0/16"
    assert v["podplay_dns_ip"] == "10.96.0.10"
    assert v["podplay_nodes"] == [
        {"name": "node1", "address": "172.30.7.11", "pod_cidr": "10.244.1.0/24"},
        {"name": "node2", "address": "172.30.7.12", "pod_cidr": "10.244.2.0/24"},
    ]
    assert v["podplay_lb_pool"][0] == "172.30.7.239" and len(v["podplay_lb_pool"]) == 16
    assert v["podplay_node_bundle"] == "/h/cache/podplay-node-abc.pyz"
    assert v["podplay_agent_token_file"] == "/h/clusters/shop/token"


def test_nodes_are_reached_over_ssh_as_root_with_the_cluster_key():
    v = render()["all"]["vars"]
    assert v["ansible_user"] == "root"
    assert v["ansible_ssh_private_key_file"] == "/h/clusters/shop/id_ed25519"
    assert "ansible_connection" not in v  # SSH, like real hosts
    assert "StrictHostKeyChecking=no" in v["ansible_ssh_common_args"]
    assert "ControlPath=/h/clusters/shop/cp/%C" in v["ansible_ssh_common_args"]


def test_per_node_vars_in_group_nodes():
    hosts = render()["all"]["children"]["nodes"]["hosts"]
    assert list(hosts) == ["node1", "node2"]
    assert hosts["node2"] == {
        "ansible_host": "172.30.7.12",
        "podplay_node_address": "172.30.7.12",
        "podplay_node_pod_cidr": "10.244.2.0/24",
        "podplay_node_index": 2,
        "podplay_container": "shop-node2",
    }
