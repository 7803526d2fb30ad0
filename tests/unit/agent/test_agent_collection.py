"""The agent role's file logic: pod manifest directory convergence and agent config texts
(in the node bundle, `files apply`), and the image side-load plan (module_utils); pure parts,
plus the atomic apply on a temporary directory."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ansible_collection"))

from agent_builders import manifest
from ansible_collections.podplay.cluster.plugins.module_utils import (
    _images as im,
)

from podplay.node.agent.config import parse_config
from podplay.node.agent.manifest import PodSpec, parse_manifest
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text
from podplay.node.files import agent as ac
from podplay.node.files import pods as pm
from podplay.node.files import units

# -- pod_manifests ---------------------------------------------------------------------------


def test_manifest_files_are_canonical_and_parse_as_the_agent_reads_them() -> None:
    doc = manifest()
    files = pm.manifest_files([doc])
    assert list(files) == ["default_web-1.json"]
    text = files["default_web-1.json"]
    assert pm.manifest_files([json.loads(text)])["default_web-1.json"] == text  # stable
    assert isinstance(parse_manifest("default_web-1.json", text.encode(), "10.244.1.0/24"), PodSpec)


@pytest.mark.parametrize(
    ("pods", "words"),
    [
        ([{"name": "Web", "namespace": "default"}], "pods[0].name: 'Web' is not a DNS label"),
        ([{"name": "web"}], "pods[0].namespace: None"),
        (["x"], "pods[0]: expected a pod manifest"),
        ([manifest(), manifest()], "pods[1]: pod default/web-1 is listed twice"),
    ],
)
def test_bad_input_names_the_pod(pods, words) -> None:
    with pytest.raises(ContractError, match=r".*") as err:
        pm.manifest_files(pods)
    assert words in str(err.value)


def test_plan_writes_changed_and_removes_stale() -> None:
    current = {"a_x.json": "1", "a_y.json": "2", "a_z.json": "3"}
    desired = {"a_x.json": "1", "a_y.json": "changed", "a_new.json": "4"}
    assert pm.plan(current, desired) == (["a_new.json", "a_y.json"], ["a_z.json"])
    assert pm.plan(desired, desired) == ([], [])


def test_apply_makes_the_directory_exactly_the_set(tmp_path: Path) -> None:
    d = tmp_path / "pods"
    d.mkdir()
    (d / "default_old.json").write_text("{}")
    (d / "README").write_text("not a manifest: left alone")
    (d / ".podplay-abc.tmp").write_text("leftover of an interrupted run")
    desired = pm.manifest_files([manifest()])
    write, remove = pm.plan(pm.read_dir(str(d)), desired)
    pm.apply(str(d), desired, write, remove)
    assert sorted(os.listdir(d)) == ["README", "default_web-1.json"]
    assert oct((d / "default_web-1.json").stat().st_mode & 0o777) == "0o600"
    assert pm.plan(pm.read_dir(str(d)), desired) == ([], [])  # idempotent


def test_apply_creates_the_directory(tmp_path: Path) -> None:
    d = tmp_path / "etc" / "podplay" / "pods"
    desired = pm.manifest_files([manifest()])
    pm.apply(str(d), desired, list(desired), [])
    assert (d / "default_web-1.json").is_file()


# -- images ----------------------------------------------------------------------------------

LISTED = """\
sha256:aaa podplay/pause:1
sha256:bbb podplay/web:1
sha256:bbb podplay/web:latest
sha256:ccc <none>:<none>
"""


def test_parse_image_list() -> None:
    refs, ids = im.parse_image_list(LISTED)
    assert refs == {"podplay/pause:1": "sha256:aaa", "podplay/web:1": "sha256:bbb",
                    "podplay/web:latest": "sha256:bbb"}  # fmt: skip
    assert ids == {"sha256:aaa", "sha256:bbb", "sha256:ccc"}


def test_side_load_plan_compares_by_id() -> None:
    refs, ids = im.parse_image_list(LISTED)
    wanted = im.wanted_images([
        None,
        {"ref": "podplay/pause:1", "id": "sha256:aaa", "archive": "/p.tar"},
        {"ref": "podplay/web:2", "id": "sha256:bbb", "archive": "/w.tar"},
        {"ref": "podplay/db:1", "id": "sha256:ddd", "archive": "/d.tar"},
        {"ref": "podplay/web:1", "id": "sha256:eee", "archive": "/w1.tar"},
        {"ref": "podplay/hello:1", "id": None, "archive": "/h.tar"},
        {"ref": "podplay/pause:1", "id": "sha256:aaa", "archive": "/p.tar"},
    ])  # fmt: skip
    plan = [(e["ref"], action) for e, action in im.side_load_plan(wanted, refs, ids)]
    assert plan == [
        ("podplay/pause:1", im.PRESENT),
        ("podplay/web:2", im.TAG),  # the node has that id under another name
        ("podplay/db:1", im.LOAD),
        ("podplay/web:1", im.LOAD),  # same name, other id: the planned one is loaded
        ("podplay/hello:1", im.LOAD),  # id unknown and name absent
    ]


def test_two_names_of_one_missing_id_load_one_archive_and_tag_the_other() -> None:
    # two images built from the same context share an id (and one cached archive)
    wanted = im.wanted_images([
        {"ref": "podplay/a:1", "id": "sha256:fff", "archive": "/f.tar"},
        {"ref": "podplay/b:1", "id": "sha256:fff", "archive": "/f.tar"},
    ])  # fmt: skip
    plan = [(e["ref"], action) for e, action in im.side_load_plan(wanted, {}, set())]
    assert plan == [("podplay/a:1", im.LOAD), ("podplay/b:1", im.TAG)]


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([{"id": "sha256:a"}], "images[0].ref"),
        ([{"ref": "x", "id": "abc"}], "images[0].id: expected sha256"),
        ([{"ref": "x", "id": "sha256:a"}, {"ref": "x:latest", "id": "sha256:b"}], "listed twice"),
    ],
)
def test_bad_image_entries(entries, words) -> None:
    with pytest.raises(im.ImageInputError) as err:
        im.wanted_images(entries)
    assert words in str(err.value)


# -- agent_config ----------------------------------------------------------------------------

DESIRED = {
    "config": {
        "node": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24",
        "cluster": "shop", "pause_image": "podplay/pause:1",
    },
    "token": "abc\n",
}  # fmt: skip


def config_text(desired) -> str:
    config = ac.agent_files(desired, "/opt/podplay/podplay-node.pyz")[0]
    assert config.path == "/etc/podplay/agent.json"
    return config.text


def test_agent_json_is_what_the_agent_parses() -> None:
    text = config_text(DESIRED)
    cfg = parse_config(json.loads(text), "agent.json")
    assert (cfg.node, cfg.address, cfg.pod_cidr, cfg.pause_image) == (
        "node1",
        "172.30.5.11",
        "10.244.1.0/24",
        "podplay/pause:1",
    )
    assert cfg.listen_address == "172.30.5.11" and cfg.backoff.initial == 10
    assert config_text(DESIRED) == text
    # the contract's defaults are written out, so every reader sees the same values
    assert json.loads(text)["api_port"] == 10250
    assert json.loads(text)["token_file"] == "/etc/podplay/token"
    assert (cfg.tls_cert, cfg.tls_key, cfg.tls_ca) == (
        "/etc/podplay/pki/node.crt",
        "/etc/podplay/pki/node.key",
        "/etc/podplay/pki/ca.crt",
    )  # where the control_plane role writes them on every node
    assert json.loads(text)["tls_cert"] == "/etc/podplay/pki/node.crt"


def test_the_agent_is_not_configured_before_its_certificate_is_on_the_node(
    tmp_path: Path, cluster_pki
) -> None:
    """It serves TLS only: without the files the control_plane role writes, nothing is
    written and the message says which role to run (check mode does not ask: that role
    writes nothing in check mode either)."""
    bundle = tmp_path / "podplay-node.pyz"
    bundle.write_bytes(b"bundle")
    config = {**DESIRED["config"], "token_file": str(tmp_path / "etc" / "token"),
              **cluster_pki.agent_fields(), "tls_key": str(tmp_path / "missing.key")}  # fmt: skip
    desired = {**DESIRED, "config": config, "config_path": str(tmp_path / "etc" / "agent.json"),
               "unit_path": str(tmp_path / "unit" / "podplay-agent.service")}  # fmt: skip
    assert ac.apply_agent(desired, str(bundle), check=True, diff=False)["changed"]
    with pytest.raises(ContractError) as err:
        ac.apply_agent(desired, str(bundle), check=False, diff=False)
    assert f"tls_key: {config['tls_key']} does not exist" in str(err.value)
    assert "control_plane role" in str(err.value)
    assert not (tmp_path / "etc").exists() and not (tmp_path / "unit").exists()


def test_backoff_override_reaches_the_agent() -> None:
    desired = {**DESIRED, "config": {**DESIRED["config"], "backoff": {"initial": 1, "maximum": 8}}}
    cfg = parse_config(json.loads(config_text(desired)))
    assert (cfg.backoff.initial, cfg.backoff.maximum, cfg.backoff.reset_after) == (1, 8, 600)


def test_unit_names_the_bundle_hash_and_never_kills_pods() -> None:
    a = units.agent_unit("/opt/podplay/podplay-node.pyz", "abc")
    assert "ExecStart=/usr/bin/python3 /opt/podplay/podplay-node.pyz agent --config " in a
    assert "KillMode=process" in a and "Restart=always" in a
    assert units.agent_unit("/opt/podplay/podplay-node.pyz", "def") != a


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"token": " \n"}, "token: the agent API token is empty"),
        ({"config": {**DESIRED["config"], "address": "nope"}}, "/etc/podplay/agent.json: "),
        ({"config": {**DESIRED["config"], "api_port": "x"}}, "api_port"),
    ],
)
def test_bad_agent_input_is_refused_before_anything_is_written(change, words) -> None:
    with pytest.raises(ContractError) as err:
        ac.agent_files({**DESIRED, **change}, "/b.pyz")
    assert words in str(err.value)


def test_agent_files_are_written_once_token_private_and_diff_hides_it(
    tmp_path: Path, cluster_pki
) -> None:
    bundle = tmp_path / "podplay-node.pyz"
    bundle.write_bytes(b"bundle")
    config = {**DESIRED["config"], "token_file": str(tmp_path / "etc" / "token"),
              **cluster_pki.agent_fields()}  # fmt: skip
    desired = {**DESIRED, "config": config, "config_path": str(tmp_path / "etc" / "agent.json"),
               "unit_path": str(tmp_path / "unit" / "podplay-agent.service")}  # fmt: skip
    check = ac.apply_agent(desired, str(bundle), check=True, diff=True)
    assert check["changed"] and check["restart"] and not (tmp_path / "etc").exists()
    assert [d["before_header"] for d in check["diff"]] == [
        desired["config_path"],
        desired["unit_path"],
    ]  # the token is never shown
    first = ac.apply_agent(desired, str(bundle), check=False, diff=False)
    assert (first["config_changed"], first["token_changed"], first["unit_changed"]) == (
        True,
        True,
        True,
    )
    assert oct((tmp_path / "etc" / "token").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "etc" / "token").read_text() == "abc\n"
    assert (tmp_path / "etc" / "agent.json").read_text() == canonical_text(
        json.loads((tmp_path / "etc" / "agent.json").read_text())
    )
    again = ac.apply_agent(desired, str(bundle), check=False, diff=True)
    assert again == {"changed": False, "config_changed": False, "token_changed": False,
                     "unit_changed": False, "restart": False,
                     "proxy_restart": False}  # fmt: skip
    bundle.write_bytes(b"a new bundle")
    newer = ac.apply_agent(desired, str(bundle), check=False, diff=False)
    assert newer["unit_changed"] and not newer["config_changed"] and newer["restart"]


# -- pods, through the contract ----------------------------------------------------------------


def test_a_pod_the_agent_would_refuse_is_refused_before_anything_is_written() -> None:
    bad = manifest()
    bad["containers"] = []
    with pytest.raises(ContractError) as err:
        pm.manifest_files([manifest(name="web-2", hostname="web-2"), bad])
    assert str(err.value) == "pods[1]: containers: expected a non-empty list"


def test_pods_are_checked_by_the_contract_and_written_as_given(tmp_path: Path) -> None:
    doc = manifest()  # no owner: valid, and written without one
    desired = {"pods": [doc], "path": str(tmp_path / "pods")}
    check = pm.apply_pods(desired, check=True, diff=True)
    assert check["changed"] and check["written"] == ["default_web-1.json"]
    assert check["diff"]["before"] == "" and "default_web-1.json" in check["diff"]["after"]
    assert not (tmp_path / "pods").exists()
    assert pm.apply_pods(desired, check=False, diff=False)["pods"] == 1
    written = json.loads((tmp_path / "pods" / "default_web-1.json").read_text())
    assert written == doc and "owner" not in written
    again = pm.apply_pods(desired, check=False, diff=True)
    assert again == {"changed": False, "written": [], "removed": [], "pods": 1}


def test_pod_manifests_are_private_and_an_older_readable_one_is_made_private(
    tmp_path: Path,
) -> None:
    """They carry the pods' env values (issue 12, item 8)."""
    pods_dir = tmp_path / "pods"
    desired = {"pods": [manifest()], "path": str(pods_dir)}
    pm.apply_pods(desired, check=False, diff=False)
    path = pods_dir / "default_web-1.json"
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)  # as an older bundle wrote it: same text, readable by all
    check = pm.apply_pods(desired, check=True, diff=False)
    assert check["changed"] and check["written"] == ["default_web-1.json"]
    assert path.stat().st_mode & 0o777 == 0o644  # check mode touches nothing
    pm.apply_pods(desired, check=False, diff=False)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not pm.apply_pods(desired, check=False, diff=False)["changed"]
