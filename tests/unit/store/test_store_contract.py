"""The store's contracts: the key layout, store.json (as `files apply store` writes it and the
node reads it), etcd's settings and units as the `control_plane` role's module has the node
bundle write them, and `store health`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text
from podplay.node.contract.store_config import Member, StoreConfig
from podplay.node.files import store as fs
from podplay.node.files.changes import ApplyError
from podplay.node.store import cli, keys

MEMBERS = [
    {"name": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24"},
    {"name": "node2", "address": "172.30.5.12", "pod_cidr": "10.244.2.0/24"},
    {"name": "node3", "address": "172.30.5.13", "pod_cidr": "10.244.3.0/24"},
]


def params(node: str = "node2", members: list[Any] = MEMBERS, **kw: object) -> dict[str, Any]:
    """The module's desired state (what `files apply store` reads), with its defaults."""
    p: dict[str, Any] = {
        "node": node,
        "address": next(m["address"] for m in MEMBERS if m["name"] == node),
        "cluster": "shop",
        "members": [{"name": m["name"], "address": m["address"]} for m in members],
        "ca": "-----CA-----",
        "cert": "-----CERT-----",
        "key": "-----KEY-----",
    }
    p.update(kw)
    return fs.settings(p)


def on_disk(tmp_path: Path, node: str = "node2", members: list[Any] = MEMBERS, **kw: Any):
    """Desired state whose every path is under tmp_path (the user: whoever runs the test)."""
    import pwd

    paths = {
        "pki_dir": str(tmp_path / "pki"),
        "config_path": str(tmp_path / "store.json"),
        "env_path": str(tmp_path / "etcd.env"),
        "unit_path": str(tmp_path / "etcd.service"),
        "controller_unit_path": str(tmp_path / "podplay-controller.service"),
        "data_dir": str(tmp_path / "data"),
        "user": pwd.getpwuid(os.getuid()).pw_name,
    }
    desired = {k: v for k, v in params(node, members).items() if k not in paths}
    desired.update(paths)
    desired["members"] = [{"name": m["name"], "address": m["address"]} for m in members]
    desired.update(kw)
    return desired


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
    text = canonical_text(fs.store_config(params()).to_json())
    cfg = StoreConfig.from_json(json.loads(text))
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
    assert canonical_text(cfg.to_json()) == text  # one format, both sides
    assert text == json.dumps(cfg.to_json(), indent=1, sort_keys=True) + "\n"  # canonical


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([], "expected a JSON object"),
        ({"cluster": "c", "node": "n", "members": []}, "members: expected a non-empty list"),
        ({"cluster": "c", "node": "n", "members": [{"name": "a"}]},
         "members[0].endpoint: missing (a non-empty string is required)"),
        ({"cluster": "c", "node": "n", "members": [{"name": "a", "endpoint": "a:1"}]},
         "members[0].endpoint: expected https://"),
        ({"node": "n", "members": [{"name": "a", "endpoint": "https://a:1"}]},
         "cluster: missing (a non-empty string is required)"),
    ],
)  # fmt: skip
def test_a_bad_store_json_names_the_field(doc: object, words: str) -> None:
    with pytest.raises(ContractError) as err:
        StoreConfig.from_json(doc, "/etc/podplay/store.json")
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
    with pytest.raises(ContractError) as err:
        fs.check_members(members)
    assert words in str(err.value)


# -- etcd's settings and unit --------------------------------------------------------------


def test_etcd_settings_tls_everywhere_and_the_initial_cluster() -> None:
    env = fs.read_env(fs.env_text(params()))
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


def test_files_apply_store_writes_every_file_once_and_a_member_its_units(tmp_path: Path) -> None:
    bundle = tmp_path / "podplay-node.pyz"
    bundle.write_bytes(b"bundle")
    first = fs.apply_store(on_disk(tmp_path), str(bundle), check=False, diff=True)
    assert first["changed"] and first["member"] and first["restart"]
    assert first["unit_changed"] and first["controller_unit_changed"]
    assert first["controller_restart"]
    names = {Path(p).name for p in first["changed_files"]}
    assert names == {"ca.crt", "node.crt", "node.key", "store.json", "etcd.env",
                     "etcd.service", "podplay-controller.service", "data"}  # fmt: skip
    assert all("-----KEY-----" not in d["after"] for d in first["diff"])  # the key is never shown
    assert os.stat(tmp_path / "pki" / "node.key").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "data").st_mode & 0o777 == 0o700
    unit = (tmp_path / "podplay-controller.service").read_text()
    assert f"ExecStart=/usr/bin/python3 {bundle} controller --config {tmp_path}/store.json" in unit
    again = fs.apply_store(on_disk(tmp_path), str(bundle), check=False, diff=True)
    assert not again["changed"] and again["changed_files"] == []
    assert not again["restart"] and not again["controller_restart"]


def test_a_new_bundle_restarts_the_controller_and_not_etcd(tmp_path: Path) -> None:
    bundle = tmp_path / "podplay-node.pyz"
    bundle.write_bytes(b"one")
    fs.apply_store(on_disk(tmp_path), str(bundle), check=False, diff=False)
    bundle.write_bytes(b"two")
    check = fs.apply_store(on_disk(tmp_path), str(bundle), check=True, diff=False)
    assert check["controller_unit_changed"] and check["controller_restart"]
    assert not check["restart"]
    real = fs.apply_store(on_disk(tmp_path), str(bundle), check=False, diff=False)
    assert real["changed_files"] == [str(tmp_path / "podplay-controller.service")]


def test_a_node_that_is_no_member_gets_certificates_and_store_json_only(tmp_path: Path) -> None:
    bundle = tmp_path / "podplay-node.pyz"
    result = fs.apply_store(on_disk(tmp_path, "node2", MEMBERS[:1]), str(bundle), False, False)
    assert not result["member"] and not result["restart"] and not result["controller_restart"]
    assert {Path(p).name for p in result["changed_files"]} == {
        "ca.crt", "node.crt", "node.key", "store.json"
    }  # fmt: skip
    assert not (tmp_path / "etcd.env").exists()


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    result = fs.apply_store(on_disk(tmp_path), str(tmp_path / "b.pyz"), check=True, diff=False)
    assert result["changed"] and result["restart"]
    assert list(tmp_path.iterdir()) == []


def test_a_member_whose_store_was_made_with_other_members_is_refused(tmp_path: Path) -> None:
    bundle = str(tmp_path / "b.pyz")
    fs.apply_store(on_disk(tmp_path, "node1", MEMBERS[:1]), bundle, False, False)
    (tmp_path / "data" / "member").mkdir()
    with pytest.raises(ApplyError) as err:
        fs.apply_store(on_disk(tmp_path, "node1", MEMBERS), bundle, False, False)
    assert "made with node1=https://172.30.5.11:2380" in str(err.value)
    # other settings may change: the members are the same
    fs.apply_store(on_disk(tmp_path, "node1", MEMBERS[:1], heartbeat_ms=50), bundle, False, False)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"cert": ""}, "store: cert: expected a non-empty string, got ''"),
        ({"client_port": "2379"}, "store: client_port: expected an integer >= 1, got '2379'"),
        ({"colour": "red"}, "store: colour: unknown field"),
    ],
)
def test_bad_desired_state_names_the_field(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ContractError) as err:
        fs.settings({**params(), **change})
    assert words in str(err.value)


def test_the_unit_runs_etcd_as_its_user_with_the_settings_file() -> None:
    from podplay.node.files import units

    unit = units.etcd_unit("node2", "/etc/podplay/etcd.env", "etcd", "/usr/bin/etcd")
    assert "User=etcd\n" in unit
    assert "EnvironmentFile=/etc/podplay/etcd.env\n" in unit
    assert "ExecStart=/usr/bin/etcd\n" in unit
    assert "Type=notify\n" in unit and "Restart=always\n" in unit


def test_pem_text_is_stable_whatever_a_lookup_stripped() -> None:
    assert fs.pem_text("-----A-----\n") == fs.pem_text("-----A-----") == "-----A-----\n"


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
