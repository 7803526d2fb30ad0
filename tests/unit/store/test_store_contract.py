"""The store's contracts: the key layout, store.json (as the role writes it and the node reads
it), etcd's settings and unit as the `control_plane` role writes them, and `store health`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ansible_collection"))

from ansible_collections.podplay.cluster.plugins.module_utils import (
    _store_config as sc,
)

from podplay.node.store import cli, keys
from podplay.node.store.config import ConfigError, Member, StoreConfig, parse_config

MEMBERS = [
    {"name": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24"},
    {"name": "node2", "address": "172.30.5.12", "pod_cidr": "10.244.2.0/24"},
    {"name": "node3", "address": "172.30.5.13", "pod_cidr": "10.244.3.0/24"},
]


def params(node: str = "node2", **kw: object) -> dict[str, object]:
    p = {
        "node": node,
        "address": next(m["address"] for m in MEMBERS if m["name"] == node),
        "cluster": "shop",
        "client_port": 2379,
        "peer_port": 2380,
        "heartbeat_ms": 100,
        "election_ms": 1000,
        "data_dir": "/var/lib/etcd/podplay",
        "pki_dir": "/etc/podplay/pki",
    }
    p.update(kw)
    return p


# -- key layout ---------------------------------------------------------------------------


def test_keys_are_built_under_the_cluster_and_parse_back() -> None:
    built = {
        keys.node_key("shop", "node1"): keys.StoreKey("shop", "nodes", node="node1"),
        keys.leader_key("shop"): keys.StoreKey("shop", "leader"),
        keys.binding_key("shop", "default", "web-5d9c-x7k2p"): keys.StoreKey(
            "shop", "bindings", namespace="default", pod="web-5d9c-x7k2p"
        ),
        keys.event_key("shop", 1_700_000_000_123, "a1b2c3"): keys.StoreKey(
            "shop", "events", event="1700000000123-a1b2c3"
        ),
    }
    assert list(built) == [
        "/podplay/shop/nodes/node1",
        "/podplay/shop/leader",
        "/podplay/shop/bindings/default/web-5d9c-x7k2p",
        "/podplay/shop/events/1700000000123-a1b2c3",
    ]
    for key, parsed in built.items():
        assert keys.parse_key(key) == parsed
        assert key.startswith(keys.cluster_prefix("shop"))
    assert keys.node_key("shop", "n1").startswith(keys.nodes_prefix("shop"))
    assert keys.binding_key("shop", "ns", "p").startswith(keys.bindings_prefix("shop", "ns"))
    assert keys.binding_key("shop", "ns", "p").startswith(keys.bindings_prefix("shop"))


def test_events_sort_by_time() -> None:
    early, late = keys.event_key("c", 999, "z"), keys.event_key("c", 1000, "a")
    assert sorted([late, early]) == [early, late]


@pytest.mark.parametrize(
    "key",
    ["/podplay/shop", "/other/shop/leader", "/podplay/shop/nodes/", "/podplay/shop/bindings/x",
     "/podplay/shop/leader/x", "/podplay//leader", "podplay/shop/leader"],
)  # fmt: skip
def test_foreign_keys_do_not_parse(key: str) -> None:
    with pytest.raises(ValueError, match="not a podplay store key"):
        keys.parse_key(key)


def test_names_with_a_slash_cannot_make_a_key() -> None:
    with pytest.raises(ValueError, match="pod 'a/b'"):
        keys.binding_key("shop", "default", "a/b")


# -- store.json ---------------------------------------------------------------------------


def test_store_json_as_the_role_writes_it_is_what_the_node_reads() -> None:
    text = sc.json_text(sc.store_doc("shop", "node2", MEMBERS, 2379))
    cfg = parse_config(json.loads(text))
    assert cfg == StoreConfig(
        cluster="shop",
        node="node2",
        members=(
            Member("node1", "https://172.30.5.11:2379"),
            Member("node2", "https://172.30.5.12:2379"),
            Member("node3", "https://172.30.5.13:2379"),
        ),
        ca="/etc/podplay/pki/ca.crt",
        cert="/etc/podplay/pki/node.crt",
        key="/etc/podplay/pki/node.key",
    )
    assert cfg.endpoints == [
        "https://172.30.5.12:2379",  # its own member first
        "https://172.30.5.11:2379",
        "https://172.30.5.13:2379",
    ]
    assert cfg.is_member
    assert sc.json_text(cfg.to_doc()) == text  # one format, both sides


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([], "expected a JSON object"),
        ({"cluster": "c", "node": "n", "members": []}, "members: a non-empty list"),
        ({"cluster": "c", "node": "n", "members": [{"name": "a"}]}, "members[0]: endpoint"),
        ({"cluster": "c", "node": "n", "members": [{"name": "a", "endpoint": "a:1"}]},
         "members[0].endpoint: expected https://"),
        ({"node": "n", "members": [{"name": "a", "endpoint": "https://a:1"}]}, "cluster: a non"),
    ],
)  # fmt: skip
def test_a_bad_store_json_names_the_field(doc: object, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "/etc/podplay/store.json")
    assert words in str(err.value)


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([], "no store members"),
        (MEMBERS[:2], "2 store members (node1, node2); the store needs 1, 3 or 5"),
        ([MEMBERS[0], MEMBERS[0], MEMBERS[1]], "members[1]: node1 is listed twice"),
        ([{"name": "x"}], "members[0]: expected {name, address}"),
    ],
)
def test_the_role_refuses_members_the_store_cannot_run_with(members: list, words: str) -> None:
    with pytest.raises(sc.StoreInputError) as err:
        sc.check_members(members, "node1")
    assert words in str(err.value)


# -- etcd's settings and unit --------------------------------------------------------------


def test_etcd_settings_tls_everywhere_and_the_initial_cluster() -> None:
    env = sc.read_env(sc.env_text(params(), MEMBERS))
    assert env["ETCD_NAME"] == "node2"
    assert env["ETCD_LISTEN_CLIENT_URLS"] == "https://172.30.5.12:2379,https://127.0.0.1:2379"
    assert env["ETCD_ADVERTISE_CLIENT_URLS"] == "https://172.30.5.12:2379"
    assert env["ETCD_LISTEN_PEER_URLS"] == "https://172.30.5.12:2380"
    assert env["ETCD_INITIAL_CLUSTER"] == (
        "node1=https://172.30.5.11:2380,node2=https://172.30.5.12:2380,"
        "node3=https://172.30.5.13:2380"
    )
    assert env["ETCD_INITIAL_CLUSTER_TOKEN"] == "podplay-shop"
    for auth in ("ETCD_CLIENT_CERT_AUTH", "ETCD_PEER_CLIENT_CERT_AUTH", "ETCD_PRE_VOTE"):
        assert env[auth] == "true"
    assert (
        env["ETCD_TRUSTED_CA_FILE"]
        == env["ETCD_PEER_TRUSTED_CA_FILE"]
        == ("/etc/podplay/pki/ca.crt")
    )
    assert env["ETCD_KEY_FILE"] == "/etc/podplay/pki/node.key"
    assert (env["ETCD_HEARTBEAT_INTERVAL"], env["ETCD_ELECTION_TIMEOUT"]) == ("100", "1000")
    assert not any(v.startswith("http://") for v in env.values())


def test_a_changed_member_list_is_noticed_an_unchanged_one_is_not() -> None:
    before = sc.env_text(params(), MEMBERS)
    assert sc.members_changed(None, before) is None  # a new member
    assert sc.members_changed(before, sc.env_text(params(heartbeat_ms=50), MEMBERS)) is None
    one = sc.env_text(params("node1"), MEMBERS[:1])
    grown = sc.env_text(params("node1"), MEMBERS)
    assert sc.members_changed(one, grown) == "node1=https://172.30.5.11:2380"


def test_the_unit_runs_etcd_as_its_user_with_the_settings_file() -> None:
    unit = sc.unit_text("node2")
    assert "User=etcd\n" in unit
    assert "EnvironmentFile=/etc/podplay/etcd.env\n" in unit
    assert "ExecStart=/usr/bin/etcd\n" in unit
    assert "Type=notify\n" in unit and "Restart=always\n" in unit


def test_pem_text_is_stable_whatever_a_lookup_stripped() -> None:
    assert sc.pem_text("-----A-----\n") == sc.pem_text("-----A-----") == "-----A-----\n"


# -- store health ---------------------------------------------------------------------------


def _rows(*healthy: bool) -> list[dict[str, object]]:
    return [{"name": f"node{i}", "healthy": h} for i, h in enumerate(healthy, 1)]


def _cfg(node: str, count: int = 3) -> StoreConfig:
    members = tuple(Member(f"node{i}", f"https://10.0.0.{i}:2379") for i in range(1, count + 1))
    return StoreConfig(cluster="c", node=node, members=members)


def test_health_wants_every_member_unless_a_quorum_is_enough() -> None:
    assert cli.good_enough(_rows(True, True, True), _cfg("node1"), quorum=False)
    assert not cli.good_enough(_rows(True, True, False), _cfg("node1"), quorum=False)
    assert cli.good_enough(_rows(True, True, False), _cfg("node1"), quorum=True)
    assert not cli.good_enough(_rows(True, False, False), _cfg("node1"), quorum=True)
    # on a member, its own member must be among the healthy
    assert not cli.good_enough(_rows(False, True, True), _cfg("node1"), quorum=True)
    assert cli.good_enough(_rows(False, True, True), _cfg("node9"), quorum=True)  # not a member
