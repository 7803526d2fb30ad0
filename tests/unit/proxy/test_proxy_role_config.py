"""What the proxy role writes (through the node bundle's `files apply proxy`): cluster.json
text, the unit, keepalived.conf (pure functions, plus the apply on a temporary directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from proxy_cases import NODES, cluster_json

from podplay.node.contract import keepalived as kv
from podplay.node.contract.cluster import ClusterState, NodeInfo
from podplay.node.contract.errors import ContractError
from podplay.node.files import changes, units
from podplay.node.files import proxy as pc
from podplay.node.proxy.state import parse_cluster
from podplay.node.util.uplink import find_uplink

IP_ADDR = [  # `ip -j addr show`
    {"ifindex": 1, "ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1"}]},
    {"ifindex": 23, "ifname": "eth0@if24", "address": "02:42:ac:1e:05:0c",
     "addr_info": [{"family": "inet", "local": "172.30.5.12", "prefixlen": 24},
                   {"family": "inet6", "local": "fe80::42:acff:fe1e:50c"}]},
    {"ifindex": 5, "ifname": "podplay0", "addr_info": [{"family": "inet", "local": "10.244.2.1"}]},
]  # fmt: skip


STATE = {"cluster": "shop", "nodes": NODES, "services": cluster_json()["services"]}


def cluster_text(state: dict) -> str:
    parsed = pc.cluster_state({"state": state})
    desired = {"node": "node1", "address": "172.30.5.11"}
    return pc.proxy_files(parsed, desired, "/b.pyz", "eth0")[0].text


def test_cluster_json_is_canonical_and_parses_as_the_proxy_reads_it():
    raw = cluster_json()
    text = cluster_text(STATE)
    assert text == cluster_text(json.loads(text))  # same state, same bytes
    parsed = parse_cluster(json.loads(text))
    assert [s.name for s in parsed.services] == sorted(s["name"] for s in raw["services"])
    assert [n.api_port for n in parsed.nodes] == [10250, 10250, 10250]
    assert json.loads(text)["dns_ip"] == "10.96.0.10"  # the contract's defaults, written out


def test_a_bad_service_table_names_the_field():
    bad = json.loads(json.dumps(STATE))
    bad["services"][0]["ports"][0]["target_port"] = 70000
    with pytest.raises(ContractError) as err:
        pc.cluster_state({"state": bad})
    assert str(err.value) == (
        "invalid service table: service default/web: ports[0].target_port: expected a port "
        "number 1-65535, got 70000"
    )


def test_unit_names_the_bundle_hash():
    a = units.proxy_unit("/opt/podplay/podplay-node.pyz", "aaa")
    b = units.proxy_unit("/opt/podplay/podplay-node.pyz", "bbb")
    assert a != b and "PODPLAY_BUNDLE_SHA256=aaa" in a
    assert "ExecStart=/usr/bin/python3 /opt/podplay/podplay-node.pyz proxy" in a
    assert "Restart=always" in a


def test_lb_ips_and_router_ids():
    services = ClusterState.from_json(STATE).services
    assert kv.lb_ips(services) == ["172.30.5.240", "172.30.5.241"]
    ids = kv.router_ids(["172.30.5.240", "172.30.6.240", "10.0.0.1"])
    assert len(set(ids.values())) == 3 and all(1 <= v <= 255 for v in ids.values())
    assert kv.router_ids(["172.30.5.240"]) == kv.router_ids(["172.30.5.240"])
    with pytest.raises(ValueError):
        kv.router_ids([f"10.0.{i // 256}.{i % 256}" for i in range(256)])


def test_interface_for_the_node_address():
    """keepalived.conf names the interface found as the repairer and the hairpin find it."""
    assert interface(find_uplink("172.30.5.12", IP_ADDR)) == "eth0"
    assert interface(find_uplink("10.244.2.1", IP_ADDR)) == "podplay0"
    assert find_uplink("192.0.2.1", IP_ADDR) is None


def interface(uplink):
    return uplink.name if uplink else None


def keepalived(node: str, address: str) -> str:
    nodes = [NodeInfo(n["name"], n["address"], n["pod_cidr"]) for n in NODES]
    return kv.keepalived_text(
        "shop", node, address, "eth0", nodes, ["172.30.5.240", "172.30.5.241"], 0.5
    )


def test_keepalived_conf_is_unicast_vrrp3_nopreempt_with_short_adverts():
    text = keepalived("node1", "172.30.5.11")
    assert "vrrp_version 3" in text and text.count("nopreempt") == 2
    assert text.count("advert_int 0.5") == 2
    assert "unicast_src_ip 172.30.5.11" in text
    assert text.count("    check_unicast_src\n") == 2  # adverts from the peers only (item 10)
    assert "        172.30.5.12\n        172.30.5.13\n" in text
    peers = text.split("unicast_peer {")[1].split("}")[0]
    assert peers.split() == ["172.30.5.12", "172.30.5.13"]
    assert "172.30.5.240/32 dev eth0" in text and "track_script" in text
    assert "state BACKUP" in text and "state MASTER" not in text


def test_each_lb_ip_prefers_a_different_node():
    prios = {}
    for node in NODES:
        text = keepalived(node["name"], node["address"])
        blocks = text.split("vrrp_instance ")[1:]
        prios[node["name"]] = [int(b.split("priority ")[1].split()[0]) for b in blocks]
    first_ip_owner = max(prios, key=lambda n: prios[n][0])
    second_ip_owner = max(prios, key=lambda n: prios[n][1])
    assert first_ip_owner != second_ip_owner
    for k in range(2):  # priorities of one instance are distinct across nodes
        assert len({prios[n][k] for n in prios}) == 3


def test_keepalived_conf_is_byte_stable():
    assert keepalived("node2", "172.30.5.12") == keepalived("node2", "172.30.5.12")


def test_proxy_files_are_written_once_and_keepalived_goes_with_the_last_lb_ip(tmp_path: Path):
    paths = {k: str(tmp_path / k) for k in ("cluster", "unit", "keepalived")}
    desired = {"state": STATE, "node": "node1", "address": "172.30.5.11"}

    def files(state):
        return pc.proxy_files(pc.cluster_state({"state": state}), desired, "/b.pyz", "eth0", paths)

    made = changes.converge(files(STATE), check=False)
    assert changes.changed_paths(made) == [paths["cluster"], paths["unit"], paths["keepalived"]]
    assert "172.30.5.240/32 dev eth0" in Path(paths["keepalived"]).read_text()
    assert changes.plan(files(STATE)) == []  # idempotent
    no_lb = {**STATE, "services": [s for s in STATE["services"] if s["type"] != "LoadBalancer"]}
    made = changes.converge(files(no_lb), check=True)
    assert [d["after_header"] for d in changes.diffs(made)] == [paths["cluster"], "(absent)"]
    assert Path(paths["keepalived"]).exists()  # check mode removed nothing
    changes.converge(files(no_lb), check=False)
    assert not Path(paths["keepalived"]).exists()
