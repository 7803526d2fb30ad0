"""`podplay-node.pyz files apply KIND --desired -`: JSON in on stdin, one JSON line out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from test_contract_records import POD

from podplay.node.__main__ import main


def run(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, stdin: Any,
        *args: str) -> tuple[int, dict, str]:  # fmt: skip
    data = stdin if isinstance(stdin, bytes) else json.dumps(stdin).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    status = main(["files", "apply", *args, "--desired", "-"])
    out, err = capsys.readouterr()
    return status, json.loads(out), err


def test_pods_check_then_apply_then_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    desired = {"pods": [POD], "path": str(tmp_path / "pods")}
    status, result, _ = run(capsys, monkeypatch, desired, "pods", "--check", "--diff")
    assert status == 0 and result["changed"] and "diff" in result
    assert not (tmp_path / "pods").exists()
    status, result, _ = run(capsys, monkeypatch, desired, "pods")
    assert status == 0 and result["written"] == ["default_web-5d9c8f7b6a-x7k2p.json"]
    assert "diff" not in result
    status, result, _ = run(capsys, monkeypatch, desired, "pods")
    assert (status, result["changed"]) == (0, False)


@pytest.mark.parametrize(
    ("stdin", "kind", "msg"),
    [
        (b"{not json", "pods", "desired state on stdin: not valid JSON (Expecting"),
        ([1], "pods", "desired state on stdin: expected a JSON object"),
        ({"pods": [{"name": "web", "namespace": "x", "containers": []}]}, "pods",
         "pods[0]: uid: missing (a non-empty string is required)"),
        ({"config": {"node": "n"}, "token": "t"}, "agent",
         "/etc/podplay/agent.json: address: missing (a non-empty string is required)"),
        ({"state": {"services": [{"name": "web", "ports": [{"port": 0}]}]}, "node": "n",
          "address": "10.0.0.1"}, "proxy",
         "invalid service table: service default/web: ports[0].port: expected a port number"),
        ({"state": {"services": [{"name": "lb", "type": "LoadBalancer", "cluster_ip": "10.96.0.5",
                                  "load_balancer_ip": "172.30.5.200", "ports": [{"port": 80}]}]},
          "lb": {"interface": "eth0"}}, "proxy",
         "proxy: node: missing (a non-empty string is required)"),
    ],
)  # fmt: skip
def test_bad_input_fails_with_one_sentence_and_writes_nothing(
    stdin: Any, kind: str, msg: str, capsys, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    status, result, err = run(capsys, monkeypatch, stdin, kind)
    assert status == 1 and result["failed"] and not result["changed"]
    assert result["msg"].startswith(msg), result["msg"]
    assert err == f"files apply {kind}: {result['msg']}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_kind_imports_only_its_own_writer(tmp_path: Path) -> None:
    """Start time of a module call: `files apply pods` never imports the other roles'
    writers (the store's, the proxy's), nor the Docker SDK or requests."""
    import subprocess
    import sys

    desired = {"pods": [], "path": str(tmp_path / "pods")}
    code = (
        "import io, json, sys\n"
        f"sys.stdin = io.TextIOWrapper(io.BytesIO(json.dumps({desired!r}).encode()))\n"
        "from podplay.node.__main__ import main\n"
        "main(['files', 'apply', 'pods', '--desired', '-', '--check'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    imported = set(json.loads(done.stdout.splitlines()[-1]))
    assert "podplay.node.files.pods" in imported
    unwanted = {"podplay.node.files.store", "podplay.node.files.proxy", "podplay.node.files.agent",
                "docker", "requests", "urllib3"}  # fmt: skip
    assert not imported & unwanted, imported & unwanted
