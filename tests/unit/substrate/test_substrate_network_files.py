"""network apply --desired: network.json is written only when it differs, atomically."""

from __future__ import annotations

import json

from podplay.node.network import files


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


def test_unit_runs_this_bundle_on_this_config():
    unit = files.unit_text("/opt/podplay/podplay-node.pyz", "/etc/podplay/network.json")
    assert (
        "ExecStart=/usr/bin/python3 /opt/podplay/podplay-node.pyz network apply "
        "--config /etc/podplay/network.json" in unit
    )
    assert "Requires=docker.service" in unit and "WantedBy=multi-user.target" in unit
