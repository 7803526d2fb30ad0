"""agent.json parsing and Docker's timestamps."""

from __future__ import annotations

import pytest

from podplay.node.agent.config import parse_config, read_token
from podplay.node.agent.runtime import parse_time
from podplay.node.contract.errors import ContractError

GOOD = {"node": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24",
        "pause_image": "podplay/pause:1"}  # fmt: skip


def test_readme_example() -> None:
    cfg = parse_config({**GOOD, "cluster": "shop", "api_port": 10250, "dns_ip": "10.96.0.10"})
    assert cfg.listen_address == "172.30.5.11" and cfg.api_port == 10250
    assert cfg.pods_dir == "/etc/podplay/pods" and cfg.bridge_network == "podplay"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"node": ""}, "node: expected a non-empty string, got ''"),
        ({"address": "nope"}, "address: expected an IP address, got 'nope'"),
        ({"api_port": "x"}, "api_port"),
        ({"backoff": {"initial": "fast"}}, "backoff"),
        ({"pods_dir": 3}, "pods_dir: expected a string"),
        ({"oci_runtime": ["crun"]}, "oci_runtime: expected a string"),
    ],
)
def test_bad_config_names_the_field(change, words) -> None:
    with pytest.raises(ContractError) as err:
        parse_config({**GOOD, **change}, "/etc/podplay/agent.json")
    assert words in str(err.value) and str(err.value).startswith("/etc/podplay/agent.json: ")


def test_the_oci_runtime_is_kept_and_written_back_only_when_set() -> None:
    assert parse_config(GOOD).oci_runtime == ""  # an older agent.json: the engine's default
    cfg = parse_config({**GOOD, "oci_runtime": "crun"})
    assert cfg.oci_runtime == "crun" and cfg.to_json()["oci_runtime"] == "crun"
    assert "oci_runtime" not in parse_config(GOOD).to_json()


def test_token(tmp_path) -> None:
    (tmp_path / "t").write_text("abc\n")
    assert read_token(str(tmp_path / "t")) == "abc"
    (tmp_path / "e").write_text("\n")
    with pytest.raises(ContractError, match="empty"):
        read_token(str(tmp_path / "e"))
    with pytest.raises(ContractError, match="cannot read"):
        read_token(str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2026-11-25T15:00:00Z", 1795618800.0),
        ("2026-11-25T15:00:00.5Z", 1795618800.5),
        ("2026-11-25T15:00:00.123456789Z", 1795618800.123456789),
        ("2026-11-25T16:00:00+01:00", 1795618800.0),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time(text, value) -> None:
    got = parse_time(text)
    assert got == pytest.approx(value) if value is not None else got is None
