"""The pod network and outside-DNS checks of `podplay verify`: cases and node commands."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
from test_verify_checks import small_plan

from podplay.node.dns import wire
from podplay.verify import network_checks
from podplay.verify.network_checks import FromNode, PeerTarget


def run(cmd: str, **env: str) -> dict:
    cmd = cmd.replace("python3 ", f"{sys.executable} ", 1)
    done = subprocess.run(
        cmd, shell=True, capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_node_reaches_a_pod_on_every_other_node() -> None:
    plan = small_plan()
    cases = {c.id: c for c in network_checks.from_nodes(plan)}
    assert sorted(cases) == ["node1", "node2"]
    one = cases["node1"]
    pod2 = next(p for p in plan.pods if p.node == "node2")
    assert one.source is not None and one.source.node == "node1"
    assert one.bridge_address == "10.244.1.1"
    # the pod declares no port: a refused connection proves the path just as well
    assert one.targets == (PeerTarget("node2", f"pod default/{pod2.name}", pod2.ip, 9),)
    assert one.peer_addresses == ("172.30.7.12",)
    assert one.dns_ip == plan.cluster.dns_ip


def test_a_node_without_pods_is_reached_at_its_bridge_and_checks_from_it() -> None:
    plan = small_plan()
    pods = [p for p in plan.pods if p.node == "node1"]
    plan = plan.model_copy(update={"pods": pods})
    cases = {c.id: c for c in network_checks.from_nodes(plan)}
    assert cases["node1"].targets == (PeerTarget("node2", "pod bridge", "10.244.2.1", 53),)
    assert cases["node2"].source is None
    cmd = network_checks.in_pod_netns(cases["node2"], "print(1)")
    assert cmd.startswith("PODPLAY_SOURCE=10.244.2.1 python3 -c ")


def test_the_check_runs_in_the_sandboxs_network_namespace() -> None:
    case = network_checks.from_nodes(small_plan())[0]
    assert case.source is not None
    cmd = network_checks.in_pod_netns(case, "print(1)")
    assert f"label=io.podplay.pod={case.source.name}" in cmd
    assert "label=io.podplay.container=POD" in cmd
    assert 'nsenter -t "$pid" -n python3 -c' in cmd
    assert f"else PODPLAY_SOURCE={case.bridge_address} python3" in cmd  # no sandbox running


def test_reach_tells_a_path_from_no_path_and_names_the_pair(tcp_ports: tuple[int, int]) -> None:
    open_port, closed_port = tcp_ports
    targets = (
        PeerTarget("node2", "pod default/a", "127.0.0.1", open_port),
        PeerTarget("node3", "pod default/b", "127.0.0.1", closed_port),
        PeerTarget("node4", "pod default/c", "192.0.2.1", 80),  # TEST-NET: never answers
    )
    case = FromNode("node1", None, "127.0.0.1", targets)
    script = network_checks.reach_script(targets, timeout=0.5)
    answer = run(network_checks.in_pod_netns(case, script))
    assert answer["from"] == "bridge 127.0.0.1"
    assert answer["results"][:2] == ["ok", "refused"]
    failed = network_checks.unreachable(case, answer["results"])
    assert len(failed) == 1
    assert failed[0].startswith("node1 -> node4 (pod default/c 192.0.2.1:80): ")


class FakeResolver:
    """A UDP DNS server on 127.0.0.1 answering PTR queries from a table (NXDOMAIN else)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.names = names
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        try:
            while True:
                data, peer = self.sock.recvfrom(512)
                request = wire.parse(data)
                q = request.questions[0]
                name = self.names.get(q.name.rstrip("."))
                answers = (
                    []
                    if name is None
                    else [wire.RR(q.name, wire.PTR, wire.IN, 5, wire.rdata_name(name))]
                )
                self.sock.sendto(wire.response(request, 0 if answers else 3, answers), peer)
        except OSError:  # closed by the test
            return


@pytest.fixture
def resolv_conf(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 127.0.0.1\n")
    return str(path)


def outside(case: FromNode, resolv_conf: str, port: int) -> dict:
    cmd = network_checks.outside_name_command(case, 0.5, resolv_conf=resolv_conf, port=port)
    return run(cmd, PYTHONPATH=":".join(p for p in sys.path if p))


def test_the_outside_name_is_asked_of_the_nodes_own_resolvers(resolv_conf) -> None:
    resolver = FakeResolver({"12.7.30.172.in-addr.arpa": "edge-node2.podplay-edge."})
    case = FromNode("node1", None, "10.244.1.1", (), ("172.30.7.12",))
    found = outside(case, resolv_conf, resolver.port)
    assert found == {"name": "edge-node2.podplay-edge", "address": "172.30.7.12",
                     "server": "127.0.0.1"}  # fmt: skip


def test_resolvers_that_know_no_name_skip_and_silent_ones_fail(resolv_conf) -> None:
    resolver = FakeResolver({})
    case = FromNode("node1", None, "10.244.1.1", (), ("172.30.7.12",))
    assert "no PTR record for 172.30.7.12" in outside(case, resolv_conf, resolver.port)["none"]
    resolver.sock.close()
    silent = outside(case, resolv_conf, resolver.port)
    assert silent["error"].startswith("127.0.0.1: ")
