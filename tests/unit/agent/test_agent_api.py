"""The agent's HTTP API over a real socket on 127.0.0.1 (no Docker), over TLS with a
throwaway cluster PKI: auth, endpoints, the NDJSON watch stream, and `podplay get` / the
control client reading it."""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from podplay.cli.get import get as get_cmd
from podplay.control.agent_client import AgentClient, NodeEndpoint, access_from_inventory
from podplay.node.agent.api import serve
from podplay.node.agent.board import EventLog, StatusBoard
from podplay.node.agent.config import parse_config

TOKEN = "s3cret"
POD = {
    "name": "web-1", "namespace": "default", "uid": "u1", "labels": {"app": "web"},
    "ip": "10.244.1.5", "phase": "Running", "ready": True, "reason": None, "message": None,
    "started_at": "2026-11-25T15:00:00Z", "template_hash": "t1",
    "containers": [{"name": "web", "container_id": "abc", "image": "podplay/web:1",
                    "state": "running", "reason": None, "message": None, "ready": True,
                    "restart_count": 2, "started_at": "2026-11-25T15:00:00Z",
                    "last_termination": None, "exit_code": None, "finished_at": None}],
}  # fmt: skip


@pytest.fixture
def server(cluster_pki):
    cfg = parse_config({"node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
                        "api_port": 0, **cluster_pki.agent_fields()})  # fmt: skip
    board, events = StatusBoard(), EventLog()
    board.publish([POD], True, "")
    events.record("default", "web-1", "Normal", "Started", "container web started")
    srv = serve(cfg, board, events, TOKEN)
    yield srv
    srv.shutdown()
    srv.server_close()


def client(srv, token: str = TOKEN) -> AgentClient:
    return AgentClient(NodeEndpoint("node1", "127.0.0.1", "10.244.1.0/24", srv.server_address[1]),
                       token, ca=Path(srv.cfg.tls_ca))  # fmt: skip


def test_healthz_is_open_and_follows_node_readiness(server) -> None:
    c = client(server, token="wrong")
    assert c.healthz() == (True, "ok")
    server.board.publish([POD], False, "container engine unreachable")
    ready, message = c.healthz()
    assert not ready and "container engine unreachable" in message


def test_everything_else_needs_the_token(server) -> None:
    port = server.server_address[1]
    context = ssl.create_default_context(cafile=server.cfg.tls_ca)
    for path in ("/v1/pods", "/v1/node", "/v1/events", "/v1/pods/default/web-1/logs"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context)
        assert err.value.code == 401
    with pytest.raises(Exception, match="unauthorized"):
        client(server, "wrong").pods()


def test_pods_node_events(server) -> None:
    c = client(server)
    doc = c.pods()
    assert doc["node"] == "node1" and doc["generation"] == 1 and doc["pods"] == [POD]
    info = c.node_info()
    assert info["name"] == "node1" and info["pod_cidr"] == "10.244.1.0/24"
    assert info["capacity"]["pods"] == 110 and info["capacity"]["cpu_millis"] >= 1000
    assert info["allocatable"] == info["capacity"]
    assert c.events()[0]["reason"] == "Started"


def test_logs_wait_for_the_agent(server) -> None:
    with pytest.raises(Exception, match="starting"):
        b"".join(client(server).logs("default", "web-1"))


def test_watch_pushes_changes_and_beats_every_second(server) -> None:
    c = client(server)
    got: list[tuple[float, dict]] = []
    start = time.monotonic()

    def change() -> None:
        time.sleep(0.3)
        server.board.publish([{**POD, "ready": False}], True, "")

    threading.Thread(target=change, daemon=True).start()
    for event in c.watch(timeout=3):
        got.append((time.monotonic() - start, event))
        if len(got) == 4:
            break
    kinds = [e["type"] for _, e in got]
    assert kinds[0] == "snapshot" and got[0][1]["pods"][0]["ready"] is True
    assert kinds[1] == "snapshot" and got[1][1]["pods"][0]["ready"] is False
    assert got[1][0] < 0.9  # pushed, not found by a poll
    assert kinds[2:] == ["heartbeat", "heartbeat"]
    assert got[3][1]["generation"] == 2


def test_unknown_path_is_404(server) -> None:
    with pytest.raises(Exception, match="no such path"):
        client(server)._json("/v2/things")


def inventory(tmp_path: Path, srv) -> Path:
    """node1 is `srv`; node2 does not answer; the cluster's CA is the server's."""
    port, pki_dir = srv.server_address[1], Path(srv.cfg.tls_ca).parent
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump({"all": {
        "vars": {"podplay_cluster_name": "shop", "podplay_agent_token_file": str(token),
                 "podplay_pki_dir": str(pki_dir),
                 "podplay_agent_api_port": port,
                 "podplay_nodes": [{"name": "node1", "address": "127.0.0.1",
                                    "pod_cidr": "10.244.1.0/24"},
                                   {"name": "node2", "address": "127.0.0.1",
                                    "pod_cidr": "10.244.2.0/24", "api_port": 1}]},
        "children": {"nodes": {"hosts": {"node1": {"podplay_container": "shop-node1"},
                                          "node2": {}}}},
    }}))  # fmt: skip
    return inv


def test_access_from_inventory(server, tmp_path: Path) -> None:
    access = access_from_inventory(inventory(tmp_path, server))
    assert access.name == "shop" and access.token == TOKEN
    n1, n2 = access.nodes
    assert (n1.container, n1.port, n2.port) == ("shop-node1", server.server_address[1], 1)


def test_get_pods_table_and_json(server, tmp_path: Path) -> None:
    inv = inventory(tmp_path, server)
    out = CliRunner().invoke(get_cmd, ["pods", "-i", str(inv)])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "IP", "NODE"]
    assert lines[1].split() == ["default", "web-1", "1/1", "Running", "2", "10.244.1.5", "node1"]
    assert "node2" in out.stderr  # unreachable node: a warning, the rest is shown
    doc = json.loads(CliRunner().invoke(get_cmd, ["pods", "-i", str(inv), "-o", "json"]).stdout)
    assert doc["pods"][0]["node"] == "node1" and doc["unreachable"]


def test_get_nodes(server, tmp_path: Path) -> None:
    inv = inventory(tmp_path, server)
    out = CliRunner().invoke(get_cmd, ["nodes", "-i", str(inv)])
    assert out.exit_code == 0, out.output
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows[0] == ["NAME", "STATUS", "ADDRESS", "POD", "CIDR", "CONTAINER"]
    assert rows[1] == ["node1", "Ready", "127.0.0.1", "10.244.1.0/24", "shop-node1"]
    assert rows[2] == ["node2", "NotReady", "127.0.0.1", "10.244.2.0/24"]


def test_get_nodes_reports_an_agent_that_answers_but_is_not_ready(server, tmp_path) -> None:
    server.board.publish([POD], False, "container engine unreachable: gone")
    inv = inventory(tmp_path, server)
    out = CliRunner().invoke(get_cmd, ["nodes", "-i", str(inv), "-o", "json"])
    assert out.exit_code == 0, out.output
    nodes = {n["name"]: n for n in json.loads(out.stdout)["nodes"]}
    assert nodes["node1"]["ready"] is False
    assert nodes["node1"]["message"] == "container engine unreachable: gone"
    assert nodes["node1"]["version"]  # the agent answered: its details are shown
    assert nodes["node2"]["ready"] is False and "does not answer" in nodes["node2"]["message"]


def test_logs_of_a_pod_with_several_containers_asks_for_one_by_its_flag(server, tmp_path) -> None:
    from podplay.cli.logs import logs as logs_cmd
    from podplay.errors import UserInputError

    duo = {
        **POD,
        "name": "duo",
        "containers": [
            {**POD["containers"][0], "name": "web"},
            {**POD["containers"][0], "name": "side"},
        ],
    }
    server.board.publish([POD, duo], True, "")
    inv = str(inventory(tmp_path, server))
    out = CliRunner().invoke(logs_cmd, ["duo", "-i", inv])
    assert isinstance(out.exception, UserInputError)
    assert str(out.exception) == "pod duo has containers web, side: choose one with -c CONTAINER"
    out = CliRunner().invoke(logs_cmd, ["duo", "-i", inv, "-c", "nope"])
    assert isinstance(out.exception, UserInputError)
    assert "no container 'nope' (its containers: web, side)" in str(out.exception)


def _requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every agent request made, as (node, path)."""
    seen: list[tuple[str, str]] = []
    real = AgentClient._open

    def recording(self: AgentClient, path: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append((self.node.name, path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(AgentClient, "_open", recording)
    return seen


def test_describe_node_asks_a_node_that_is_down_once(server, tmp_path, monkeypatch) -> None:
    """A node that does not answer costs one timeout: /v1/node carries readiness."""
    from podplay.cli.describe import describe

    seen = _requests(monkeypatch)
    inv = str(inventory(tmp_path, server))
    out = CliRunner().invoke(describe, ["node", "node2", "-i", inv])
    assert out.exit_code == 0, out.output
    assert seen == [("node2", "/v1/node")]
    fields = dict(line.split(":", 1) for line in out.stdout.splitlines()[:6])
    assert fields["Ready"].strip() == "False"
    assert "does not answer" in fields["Message"]


def test_describe_node_reads_readiness_from_the_node_info(server, tmp_path, monkeypatch) -> None:
    from podplay.cli.describe import describe

    server.board.publish([POD], False, "container engine unreachable: gone")
    seen = _requests(monkeypatch)
    inv = str(inventory(tmp_path, server))
    out = CliRunner().invoke(describe, ["node", "node1", "-i", inv])
    assert out.exit_code == 0, out.output
    assert "/healthz" not in {path for _, path in seen}
    lines = out.stdout.splitlines()
    fields = dict(line.split(":", 1) for line in lines[:6])
    assert fields["Ready"].strip() == "False"
    assert fields["Message"].strip() == "container engine unreachable: gone"
    assert any(line.split()[:1] == ["web-1"] for line in lines)  # it still lists its pods
    server.board.publish([POD], True, "")
    out = CliRunner().invoke(describe, ["node", "node1", "-i", inv])
    fields = dict(line.split(":", 1) for line in out.stdout.splitlines()[:6])
    assert (fields["Ready"].strip(), fields["Message"].strip()) == ("True", "")


def _applied_plan(directory: Path) -> object:
    """A plan of two `web` pods on node1 and node2 (one each), where `-i` finds it."""
    import podplay as pp
    from podplay.dsl import Stack
    from podplay.plan import plan

    with Stack(program="app.py") as stack:
        pp.Cluster("shop", nodes=2)
        pp.Deployment("web", replicas=2, containers=[pp.Container("web", image="busybox")])
    applied = plan(stack, None, None, {})
    (directory / "plan.json").write_text(applied.to_json())
    return applied


def test_get_pods_lists_an_unreachable_nodes_pods_as_unknown(server, tmp_path) -> None:
    """kubectl shows the pods of a node it lost touch with as Unknown: so does get pods, from
    the applied plan, and still warns about the node."""
    inv = str(inventory(tmp_path, server))
    applied = _applied_plan(tmp_path)
    lost = next(p for p in applied.pods if p.node == "node2")  # type: ignore[attr-defined]
    out = CliRunner().invoke(get_cmd, ["pods", "-i", inv])
    assert out.exit_code == 0, out.output
    rows = [line.split() for line in out.stdout.splitlines()]
    assert ["default", lost.name, "0/1", "Unknown", "-", lost.ip, "node2"] in rows
    assert ["default", "web-1", "1/1", "Running", "2", "10.244.1.5", "node1"] in rows
    warning = out.stderr.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: node node2: agent at")
    assert "does not answer" in warning[0]
    doc = json.loads(CliRunner().invoke(get_cmd, ["pods", "-i", inv, "-o", "json"]).stdout)
    unknown = [p for p in doc["pods"] if p["node"] == "node2"]
    assert [(p["name"], p["phase"], p["ready"]) for p in unknown] == [(lost.name, "Unknown", False)]
    assert unknown[0]["labels"] == {"app": "web"} and doc["unreachable"]
    out = CliRunner().invoke(get_cmd, ["pods", "-i", inv, "-l", "app=other"])
    assert lost.name not in out.stdout  # selectors apply to them too
