"""Network faults heal by themselves, and `podplay verify` sees them (issue 12, items 2, 3, 5).

Each test injects one fault on the shared cluster under a client loop from this machine,
undoes it, and asserts the recovery bounds; the figures are printed (`-s` shows them):

- partition: the node holding the LoadBalancer IP is disconnected from the cluster network
  for 20 s, then connected again with the same address (its interface comes back under
  another name): every request succeeds within 10 s of the reconnect.
- flushed iptables: `iptables -t nat -F; iptables -F` on a node: every request succeeds
  within 3 s, and a pod there resolves a name outside the cluster afterwards.
- verify: with the node's repairer stopped, `podplay verify` fails naming the node pair while
  its routes are missing, and the outside-DNS check while its nat table is flushed; it
  passes once the repairer runs again.

The app goes on with `podplay up` (verify needs an applied stack) and is destroyed with
`--keep-cluster` at the end, so the end-to-end tests that follow start from a bare cluster.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_kit import (
    NODE_PORT,
    Load,
    flush_iptables,
    node_sh,
    partition,
    pod_dns,
    proxy_ready_endpoints,
    uplink,
    write_program,
)
from helpers import wait_until

from podplay.artifacts import bundle
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.substrate import Cluster, Node

pytestmark = pytest.mark.integration

PODPLAY = str(Path(sys.executable).parent / "podplay")
PARTITION_SECONDS = 20.0
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"


def podplay(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODPLAY, *args], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


class App:
    def __init__(self, cluster: Cluster, program: Path, outputs: dict[str, Any]) -> None:
        self.cluster = cluster
        self.program = program
        self.lb_ip = str(outputs["lb_ip"])
        self.cluster_ip = str(outputs["cluster_ip"])
        self.dns_ip = "10.96.0.10"  # the cluster's default (the program sets no other)

    def all_routed(self) -> bool:
        """Every node's proxy routes to every pod (one per node)."""
        count = len(self.cluster.nodes)
        return all(len(proxy_ready_endpoints(n.container)) >= count for n in self.cluster.nodes)

    def lb_holder(self) -> Node:
        for node in self.cluster.nodes:
            if f"inet {self.lb_ip}/" in node_sh(node.container, "ip -o -4 addr show"):
                return node
        return self.cluster.nodes[0]


@pytest.fixture(scope="module")
def app(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root = tmp_path_factory.mktemp("chaos")
    program = write_program(root, cluster.name, len(cluster.nodes))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NODE_BUNDLE_ENV, str(bundle.ensure_bundle()))
        up = podplay("up", str(program), "-y")
        assert up.returncode == 0, f"{up.stdout[-3000:]}\n{up.stderr}"
        outputs = json.loads((root / ".podplay" / cluster.name / "outputs.json").read_text())
        app = App(cluster, program, outputs["exports"])
        wait_until(app.all_routed, timeout=60, what="every pod routed on every node")
        try:
            yield app
        finally:
            done = podplay("destroy", str(program), "-y", "--keep-cluster")
            assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr}"


def node_port_url(node: Node) -> tuple[str, int]:
    return (node.address, NODE_PORT)


def test_partition_heals_within_10s_of_reconnect(app: App, cluster: Cluster) -> None:
    victim = app.lb_holder()
    before = uplink(victim.container, victim.address)
    targets = {
        f"NodePort {victim.name}": node_port_url(victim),
        "LoadBalancer": (app.lb_ip, 80),
    }
    others = [n for n in cluster.nodes if n.name != victim.name]
    targets[f"NodePort {others[0].name}"] = node_port_url(others[0])
    load = Load(targets).start()
    try:
        time.sleep(2)
        started = time.monotonic()
        with partition(cluster.network, victim.container, victim.address) as times:
            time.sleep(PARTITION_SECONDS)
        reconnected = times["reconnected"]
        time.sleep(15)
    finally:
        load.stop()
    report = load.report(reconnected, since=started)
    after = uplink(victim.container, victim.address)
    print(f"\npartition of {victim.name} ({before} -> {after}) for {PARTITION_SECONDS:.0f} s: "
          f"{report.line()}")  # fmt: skip
    late = load.failures_after(reconnected + 10)
    assert not late, f"requests still failing 10 s after the reconnect: {report.errors}"
    assert report.recovery <= 10, report
    conf = node_sh(victim.container, f"cat {KEEPALIVED_CONF}")
    assert f"interface {after}" in conf and f"dev {after}" in conf, conf
    routes = node_sh(victim.container, "ip -4 route show")
    for peer in others:
        assert f"{peer.pod_cidr} via {peer.address}" in routes, routes
    wait_until(app.all_routed, timeout=30, what="every pod routed again")


def nodes_running_pods(cluster: Cluster) -> list[Node]:
    """The nodes that run a pod now: the control plane moved the pods of a node cut off by
    the partition test, so which nodes hold them is read, not assumed."""
    sandbox = "docker ps -q --filter label=io.podplay.container=POD"
    return [n for n in cluster.nodes if node_sh(n.container, sandbox).strip()]


def test_flushed_iptables_heal_within_3s_and_outside_dns_works(app: App, cluster: Cluster) -> None:
    victim = nodes_running_pods(cluster)[0]
    engine_dns = node_sh(victim.container, "iptables-save -t nat | grep -e DOCKER_ -e 127.0.0.11")
    targets = {f"NodePort {victim.name}": node_port_url(victim), "LoadBalancer": (app.lb_ip, 80)}
    load = Load(targets).start()
    try:
        time.sleep(2)
        started = time.monotonic()
        flushed = flush_iptables(victim.container)
        time.sleep(8)
    finally:
        load.stop()
    report = load.report(flushed, since=started)
    print(f"\niptables flush on {victim.name}: {report.line()}")
    late = load.failures_after(flushed + 3)
    assert not late, f"requests still failing 3 s after the flush: {report.errors}"
    restored = node_sh(victim.container, "iptables-save -t nat | grep -e DOCKER_ -e 127.0.0.11")
    assert sorted(restored.splitlines()) == sorted(engine_dns.splitlines())
    # a name outside the cluster (another node container's, which only Docker's embedded DNS
    # knows), through cluster DNS, from a pod on the flushed node
    outside = next(n for n in cluster.nodes if n.name != victim.name)
    answer = pod_dns(victim.container, outside.container, app.dns_ip)
    print(f"{outside.container} from a pod on {victim.name}: {answer}")
    assert answer["rcode"] == 0 and [1, outside.address] in answer["answers"], answer


def verify(app: App, why: str) -> subprocess.CompletedProcess[str]:
    done = podplay("verify", str(app.program), timeout=900)
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    print(f"\nverify {why}: rc={done.returncode}" + "".join(f"\n  {f}" for f in failed))
    return done


def test_verify_fails_while_the_network_is_broken_and_passes_once_repaired(
    app: App, cluster: Cluster
) -> None:
    victim, peer = nodes_running_pods(cluster)[:2]
    stop = "systemctl stop podplay-network"
    try:
        node_sh(victim.container, f"{stop} && ip route del {peer.pod_cidr}")
        done = verify(app, f"with {victim.name}'s route to {peer.name} deleted")
        assert done.returncode == 1, done.stdout[-3000:]
        assert f"{victim.name} -> {peer.name} (pod default/echo-" in done.stdout, done.stdout
        node_sh(victim.container, "systemctl start podplay-network")
        node_sh(victim.container, f"{stop} && iptables -t nat -F")
        done = verify(app, f"with {victim.name}'s nat table flushed")
        assert done.returncode == 1, done.stdout[-3000:]
        assert re.search(rf"FAILED \S*test_outside_dns\[{victim.name}\]", done.stdout), done.stdout
    finally:
        node_sh(victim.container, "systemctl start podplay-network")
    done = verify(app, "once repaired")
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
