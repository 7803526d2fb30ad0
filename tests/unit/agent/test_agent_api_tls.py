"""The agent API is TLS only (issue 12 item 6): real handshakes on 127.0.0.1 with a throwaway
cluster PKI made by `podplay.artifacts.pki`. A client holding the cluster CA is served; one
without it (another cluster's CA, the system's trust store) fails the handshake before any
token is sent; plain HTTP, token and all, gets no answer. The CLI, the rollout waits on the
node and the server's certificate reload go through the same code."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import time
from pathlib import Path

import pytest
import yaml

from podplay.control.agent_client import (
    AgentClient,
    AgentError,
    NodeEndpoint,
    access_from_inventory,
)
from podplay.node.agent.api import serve
from podplay.node.agent.board import EventLog, StatusBoard
from podplay.node.agent.config import parse_config
from podplay.node.rollout.look import agent_pods
from podplay.node.util import tls

TOKEN = "s3cret"
POD = {"name": "web-1", "namespace": "default", "ip": "10.244.1.5", "ready": True}


@pytest.fixture
def server(cluster_pki):
    cfg = parse_config({"node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
                        "api_port": 0, **cluster_pki.agent_fields()})  # fmt: skip
    board = StatusBoard()
    board.publish([POD], True, "")
    srv = serve(cfg, board, EventLog(), TOKEN)
    yield srv
    srv.shutdown()
    srv.server_close()


def endpoint(srv) -> NodeEndpoint:
    return NodeEndpoint("node1", "127.0.0.1", "10.244.1.0/24", srv.server_address[1])


def test_a_client_with_the_cluster_ca_is_served(server, cluster_pki) -> None:
    c = AgentClient(endpoint(server), TOKEN, ca=Path(cluster_pki.ca))
    assert c.base.startswith("https://")
    assert c.pods()["pods"] == [POD]
    raw = socket.create_connection(("127.0.0.1", server.server_address[1]), 5)
    with tls.client_context(cluster_pki.ca).wrap_socket(raw, server_hostname="127.0.0.1") as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        peer = s.getpeercert()
        assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
        assert dict(x[0] for x in peer["subject"])["commonName"] == "node1"


def test_a_client_without_the_cluster_ca_fails_before_sending_anything(server, foreign_pki) -> None:
    c = AgentClient(endpoint(server), TOKEN, ca=Path(foreign_pki.ca))
    with pytest.raises(AgentError, match="certificate was refused"):
        c.pods()
    port = server.server_address[1]
    for context in (tls.client_context(foreign_pki.ca), ssl.create_default_context()):
        raw = socket.create_connection(("127.0.0.1", port), 5)
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="127.0.0.1")
        raw.close()
    with pytest.raises(AgentError, match="no cluster CA"):
        AgentClient(endpoint(server), TOKEN).pods()  # never unverified


def test_plain_http_with_the_token_gets_no_answer(server) -> None:
    s = socket.create_connection(("127.0.0.1", server.server_address[1]), 5)
    s.sendall(b"GET /v1/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n")
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    s.close()
    assert not data.startswith(b"HTTP/"), data  # at most a TLS alert, never an answer
    assert b"web-1" not in data and b"node1" not in data
    deadline = time.monotonic() + 3
    while server.limits.counts()[0] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.limits.counts()[0] == 0  # and it holds nothing


def test_the_server_loads_a_new_certificate_without_a_restart(
    tmp_path: Path, cluster_pki, foreign_pki
) -> None:
    """The control_plane role re-issues a node's certificate in place (a new address, near
    expiry): the next handshakes use it."""
    cert, key = tmp_path / "node.crt", tmp_path / "node.key"
    shutil.copy(foreign_pki.cert, cert)
    shutil.copy(foreign_pki.key, key)
    now = [0.0]
    server_tls = tls.ServerTls(str(cert), str(key), clock=lambda: now[0])
    cfg = parse_config({"node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
                        "api_port": 0, "tls_cert": str(cert), "tls_key": str(key)})  # fmt: skip
    board = StatusBoard()
    board.publish([POD], True, "")
    srv = serve(cfg, board, EventLog(), TOKEN, tls=server_tls)
    try:
        client = AgentClient(endpoint(srv), TOKEN, ca=Path(cluster_pki.ca))
        with pytest.raises(AgentError, match="certificate"):
            client.pods()
        shutil.copy(cluster_pki.cert, cert)
        shutil.copy(cluster_pki.key, key)
        now[0] += 0.5
        with pytest.raises(AgentError, match="certificate"):
            client.pods()  # looked at no more than once a second
        now[0] += 1.0
        assert client.pods()["pods"] == [POD]
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_rollout_wait_asks_its_agent_over_tls(server, cluster_pki, foreign_pki, tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    doc = {**server.cfg.to_json(), "api_port": server.server_address[1],
           "token_file": str(token)}  # fmt: skip
    agent_json = tmp_path / "agent.json"
    agent_json.write_text(json.dumps(doc))
    assert agent_pods(str(agent_json)) == ([POD], "")
    agent_json.write_text(json.dumps({**doc, "tls_ca": foreign_pki.ca}))
    pods, why = agent_pods(str(agent_json))
    assert pods is None and "certificate was refused" in why, why


def test_the_cli_finds_the_cluster_ca_under_podplay_home(tmp_path, monkeypatch) -> None:
    """Without `podplay_pki_dir` in the inventory: the cluster's own directory."""
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    token = tmp_path / "token"
    token.write_text(TOKEN)
    inv = tmp_path / "inventory.yml"
    nodes = [{"name": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24"}]
    inv.write_text(yaml.safe_dump({"all": {"vars": {
        "podplay_cluster_name": "shop", "podplay_agent_token_file": str(token),
        "podplay_nodes": nodes}}}))  # fmt: skip
    access = access_from_inventory(inv)
    assert access.ca == tmp_path / "home" / "clusters" / "shop" / "pki" / "ca.crt"
    given = {"podplay_pki_dir": str(tmp_path / "elsewhere")}
    doc = yaml.safe_load(inv.read_text())
    doc["all"]["vars"].update(given)
    inv.write_text(yaml.safe_dump(doc))
    assert access_from_inventory(inv).ca == tmp_path / "elsewhere" / "ca.crt"
