"""network apply --desired: network.json is written only when it differs, atomically."""

from __future__ import annotations

import json

from podplay.node.network import files
from podplay.node.util.bundle import sha256_file


def test_config_written_once_then_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "has_systemd", lambda: False)
    path = str(tmp_path / "etc" / "podplay" / "network.json")
    doc = {"node": "node1", "nodes": [{"name": "node1"}], "address": "172.30.5.11"}
    assert files.ensure_files(doc, path, "/opt/podplay/podplay-node.pyz", check=True) == [
        f"{path} written"
    ]
    assert not (tmp_path / "etc").exists()  # check mode wrote nothing
    assert files.ensure_files(doc, path, "/b.pyz") == [f"{path} written"]
    assert json.loads((tmp_path / "etc" / "podplay" / "network.json").read_text()) == doc
    assert files.ensure_files(dict(reversed(doc.items())), path, "/b.pyz") == []  # key order
    assert [p.name for p in (tmp_path / "etc" / "podplay").iterdir()] == ["network.json"]


def test_diff_shows_network_json_before_and_after_only_when_it_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "has_systemd", lambda: False)
    path = str(tmp_path / "network.json")
    diff: list = []
    files.ensure_files({"node": "node1"}, path, "/b.pyz", check=True, diff=diff)
    assert [(d["before_header"], d["before"]) for d in diff] == [(path, "")]
    assert json.loads(diff[0]["after"]) == {"node": "node1"}
    files.ensure_files({"node": "node1"}, path, "/b.pyz")
    diff.clear()
    files.ensure_files({"node": "node2"}, path, "/b.pyz", check=True, diff=diff)
    assert json.loads(diff[0]["before"]) == {"node": "node1"}
    assert json.loads(diff[0]["after"]) == {"node": "node2"}
    diff.clear()
    files.ensure_files({"node": "node1"}, path, "/b.pyz", diff=diff)
    assert diff == []  # unchanged: no entry


def test_unit_runs_the_repairer_of_this_bundle_on_this_config():
    unit = files.unit_text("/opt/podplay/podplay-node.pyz", "/etc/podplay/network.json", "ab12")
    assert (
        "ExecStart=/usr/bin/python3 /opt/podplay/podplay-node.pyz network watch "
        "--config /etc/podplay/network.json" in unit
    )
    assert "Requires=docker.service" in unit and "WantedBy=multi-user.target" in unit
    # long-running, ready only after its first pass (agent and proxy start after it), and
    # restarted by a new bundle (its hash is in the unit)
    assert "Type=notify" in unit and "Restart=always" in unit
    assert "Before=podplay-agent.service podplay-proxy.service" in unit
    assert "Environment=PODPLAY_BUNDLE_SHA256=ab12" in unit


def test_bundle_hash_names_the_bundle_contents(tmp_path):
    bundle = tmp_path / "b.pyz"
    bundle.write_bytes(b"one")
    first = sha256_file(str(bundle))
    bundle.write_bytes(b"two")
    assert sha256_file(str(bundle)) != first and len(first) == 64
    assert sha256_file(str(tmp_path / "missing")) == "missing"
    assert files.unit_text("/b.pyz", "/c.json", first).count(first) == 1


def test_unit_written_enabled_and_restarted_only_when_it_changed(tmp_path, monkeypatch):
    calls = []
    state = {"enabled": "disabled", "active": "inactive"}

    def systemctl(*args, check=True):
        calls.append(args)
        if args[0] == "is-enabled":
            return state["enabled"]
        if args[0] == "is-active":
            return state["active"]
        if args[0] in ("enable",):
            state["enabled"] = "enabled"
        if args[0] in ("start", "restart"):
            state["active"] = "active"
        return ""

    monkeypatch.setattr(files, "has_systemd", lambda: True)
    monkeypatch.setattr(files, "systemctl", systemctl)
    monkeypatch.setattr(files, "UNIT_PATH", str(tmp_path / "podplay-network.service"))
    path = str(tmp_path / "network.json")
    doc = {"node": "node1"}
    first = files.ensure_files(doc, path, "/b.pyz")
    assert first == [
        f"{path} written",
        f"{files.UNIT_PATH} written",
        "podplay-network.service enabled",
        "podplay-network.service restarted",
    ]
    assert ("restart", "podplay-network.service") in calls
    calls.clear()
    assert files.ensure_files(doc, path, "/b.pyz") == []  # idempotent: nothing restarted
    assert [c for c in calls if c[0] not in ("is-enabled", "is-active")] == []
    state["active"] = "failed"
    assert files.ensure_files(doc, path, "/b.pyz", check=True) == [
        "podplay-network.service started"
    ]
    assert ("start", "podplay-network.service") not in calls  # check mode: only reported
    assert files.ensure_files(doc, path, "/b.pyz") == ["podplay-network.service started"]
