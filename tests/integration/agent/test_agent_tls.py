"""The agent API speaks TLS only (issue 12 item 6), on the shared test cluster.

What crosses the nodes' network is read off the wire (a packet capture on node1 while the
proxies reconnect and the CLI asks): the token never appears in it, while a marker sent in
clear on the same port does (the capture sees payloads). Plain HTTP, token and all, gets no
answer; clients with the cluster CA (curl on the nodes, the CLI, the proxies) work, and a
client without it is refused by its own certificate check.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

from click.testing import CliRunner
from helpers import node_exec, wait_until

from podplay.control.agent_client import ClusterAccess
from podplay.substrate import Cluster

PORT = 10250
CA = "/etc/podplay/pki/ca.crt"

# Counts the TCP segments to or from PORT seen on any interface of the node (AF_PACKET),
# their payload bytes, and how many payloads hold each marker (argv[3:]).
SNIFF = r"""
import json, socket, struct, sys, time
port, seconds, markers = int(sys.argv[1]), float(sys.argv[2]), [m.encode() for m in sys.argv[3:]]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.settimeout(0.2)
packets = size = 0
found = [0] * len(markers)
print("ready", flush=True)
end = time.time() + seconds
while time.time() < end:
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    if frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    if ip[9] != 6:
        continue
    tcp = ip[(ip[0] & 15) * 4 : struct.unpack("!H", ip[2:4])[0]]
    if port not in struct.unpack("!HH", tcp[:4]):
        continue
    data = tcp[(tcp[12] >> 4) * 4 :]
    packets += 1
    size += len(data)
    for i, m in enumerate(markers):
        found[i] += m in data
print(json.dumps({"packets": packets, "bytes": size, "found": found}), flush=True)
"""

PLAIN = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
           % (sys.argv[3], sys.argv[4])).encode())
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
sys.stdout.write(repr(data))
"""


def proxies_hear_every_node(cluster: Cluster, node: str) -> bool:
    raw = node_exec(cluster, node, "cat /run/podplay/proxy.json").stdout
    try:
        status = json.loads(raw)
    except ValueError:
        return False
    alive = {n["node"] for n in status.get("nodes", []) if n.get("alive")}
    return status.get("synced") and alive == {n.name for n in cluster.nodes}


def test_the_token_never_crosses_the_network_in_clear(cluster: Cluster, access: ClusterAccess):
    """node1's wire while node2's and node1's proxies reconnect to every agent (each sends
    the token) and the CLI asks node1's agent from this machine."""
    node1, node2 = cluster.node("node1"), cluster.node("node2")
    marker = "podplay-canary-" + uuid.uuid4().hex
    sniffer = subprocess.Popen(
        ["docker", "exec", "-i", node1.container, "python3", "-c", SNIFF, str(PORT), "12",
         access.token, marker],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sniffer.stdout is not None and sniffer.stdout.readline().strip() == "ready"
    for node in ("node2", "node1"):
        node_exec(cluster, node, "systemctl restart podplay-proxy", check=True)
    assert access.client(access.node("node1")).pods()["node"] == "node1"
    for node in ("node1", "node2"):
        wait_until(lambda n=node: proxies_hear_every_node(cluster, n), timeout=10,
                   what=f"{node}'s proxy watching every agent again")  # fmt: skip
    # a control: the same port, in clear, from node2 (what a plain client would send)
    node_exec(cluster, node2, ["python3", "-c", PLAIN, node1.address, str(PORT), "/healthz",
                               marker])  # fmt: skip
    seen = json.loads(sniffer.stdout.readline())
    sniffer.wait(20)
    assert seen["packets"] > 20 and seen["bytes"] > 2000, seen  # the API's traffic was seen
    token_found, marker_found = seen["found"]
    assert marker_found >= 1, seen  # a payload in clear is caught...
    assert token_found == 0, seen  # ...and the token never was


def test_plain_http_gets_no_answer_even_with_the_token(cluster: Cluster, access: ClusterAccess):
    node1 = cluster.node("node1")
    for path in ("/v1/pods", "/healthz"):
        started = time.monotonic()
        res = node_exec(cluster, "node2", ["python3", "-c", PLAIN, node1.address, str(PORT),
                                           path, access.token], check=True)  # fmt: skip
        data = res.stdout
        assert not data.startswith("b'HTTP/"), (path, data)  # at most a TLS alert
        assert "node1" not in data and "pods" not in data, (path, data)
        assert time.monotonic() - started < 5  # closed at once, not left hanging


def test_curl_with_the_cluster_ca_is_served_and_without_it_refuses(cluster: Cluster):
    for node in cluster.nodes:
        for target in cluster.nodes:
            url = f"https://{target.address}:{PORT}/healthz"
            res = node_exec(cluster, node.name, f"curl -sS -m 5 --cacert {CA} {url}")
            assert res.ok and res.stdout.strip() == "ok", (node.name, target.name, res)
    url = f"https://{cluster.node('node1').address}:{PORT}/healthz"
    res = node_exec(cluster, "node2", f"curl -sS -m 5 {url}")
    assert res.rc == 60, res  # the system's CAs do not vouch for the cluster's certificate
    res = node_exec(cluster, "node2", f"curl -sS -m 5 http://{url[len('https://') :]}")
    assert not res.ok and "ok" not in res.stdout, res


def test_the_cli_and_every_proxy_work_over_tls(cluster: Cluster) -> None:
    from podplay.cli.describe import describe
    from podplay.cli.get import get

    out = CliRunner().invoke(get, ["nodes", "-i", str(cluster.inventory), "-o", "json"])
    assert out.exit_code == 0, out.output
    nodes = json.loads(out.stdout)["nodes"]
    assert [(n["name"], n["ready"]) for n in nodes] == [(n.name, True) for n in cluster.nodes]
    out = CliRunner().invoke(get, ["pods", "-i", str(cluster.inventory)])
    assert out.exit_code == 0 and "warning" not in out.stderr, out.output
    out = CliRunner().invoke(describe, ["node", "node2", "-i", str(cluster.inventory)])
    assert out.exit_code == 0, out.output
    assert "Ready:" in out.stdout and "does not answer" not in out.stdout, out.stdout
    for node in cluster.nodes:
        assert proxies_hear_every_node(cluster, node.name), node.name
