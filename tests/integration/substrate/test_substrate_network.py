"""The pod network across real node containers: routed, source-preserving, masqueraded out."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
from helpers import load_image, node_exec, run_playbook, wait_until

pytestmark = pytest.mark.integration

# A busybox httpd whose CGI answers with the client address it saw.
ECHO_SERVER = (
    "mkdir -p /www/cgi-bin && "
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' "
    "> /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www"
)


def ask_ip(target: str) -> str:
    """Shell for a client: GET /cgi-bin/ip from target:8080 with nc (busybox wget is unusable)."""
    request = "printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n'"
    # busybox httpd reports IPv4 clients as [::ffff:a.b.c.d]
    return f"{request} | nc -w 3 {target} 8080 | tail -n 1 | sed 's/^\\[::ffff://; s/\\]$//'"


@pytest.fixture
def pods(cluster, busybox_image):
    """Start containers on nodes' `podplay` networks; removed afterwards."""
    started: list[tuple[str, str]] = []
    load_image(cluster, busybox_image)

    def start(node: str, ip: str, *cmd: str) -> str:
        name = f"pptest-{uuid.uuid4().hex[:8]}"
        res = node_exec(
            cluster,
            node,
            ["docker", "run", "-d", "--name", name, "--network", "podplay", "--ip", ip,
             busybox_image.ref, *cmd],
        )  # fmt: skip
        assert res.ok, res.stderr
        started.append((node, name))
        return name

    yield start
    for node, name in started:
        node_exec(cluster, node, ["docker", "rm", "-f", name])


def pod_ip(cluster, node: str, host: int) -> str:
    return cluster.node(node).pod_cidr.rsplit(".", 1)[0] + f".{host}"


def test_pod_reaches_pod_on_another_node_and_keeps_its_source_ip(cluster, pods):
    server_ip, client_ip = pod_ip(cluster, "node3", 201), pod_ip(cluster, "node1", 201)
    pods("node3", server_ip, "sh", "-c", ECHO_SERVER)
    client = pods("node1", client_ip, "sleep", "300")

    def answer() -> str:
        res = node_exec(cluster, "node1", ["docker", "exec", client, "sh", "-c", ask_ip(server_ip)])
        return res.stdout.strip()

    assert wait_until(answer, timeout=20, what=f"{server_ip} answering") == client_ip


def test_traffic_leaving_the_cluster_is_masqueraded(cluster, pods, busybox_image):
    outside = f"pptest-outside-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", outside, "--network", cluster.network,
         "--label", f"io.podplay.cluster={cluster.name}", busybox_image.ref, "sh", "-c",
         ECHO_SERVER],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        outside_ip = subprocess.run(
            ["docker", "inspect", "-f",
             f"{{{{(index .NetworkSettings.Networks \"{cluster.network}\").IPAddress}}}}", outside],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        client = pods("node1", pod_ip(cluster, "node1", 202), "sleep", "300")

        def answer() -> str:
            cmd = ["docker", "exec", client, "sh", "-c", ask_ip(outside_ip)]
            return node_exec(cluster, "node1", cmd).stdout.strip()

        seen = wait_until(answer, timeout=20, what=f"{outside_ip} answering")
        assert seen == cluster.node("node1").address
    finally:
        subprocess.run(["docker", "rm", "-f", outside], capture_output=True, check=False)


def test_site_yml_second_run_changes_nothing(cluster, site_result):
    assert site_result.ok
    again = run_playbook(cluster, "site.yml")
    assert again.ok, again.failures
    assert again.changed == 0, [(e.host, e.task) for e in again.changed_tasks]
    assert set(again.hosts) == {n.name for n in cluster.nodes}


def test_site_yml_check_diff_on_a_converged_cluster_changes_nothing(cluster, site_result):
    """Each role is one module call that computes its whole state, check mode included: on a
    converged cluster `--check --diff` reports no change on any node, and no diff."""
    assert site_result.ok
    check = run_playbook(cluster, "site.yml", check=True, diff=True)
    assert check.ok, check.failures
    assert check.changed == 0, [(e.host, e.task) for e in check.changed_tasks]
    assert set(check.hosts) == {n.name for n in cluster.nodes}


def test_network_service_restores_routes_and_chains(cluster):
    """What a rebooted node relies on: podplay-network.service applies network.json at start
    (before it says it is ready); running, it is the repairer (the chaos tests break more)."""
    node1 = cluster.node("node1")
    other = cluster.node("node2")
    assert node_exec(cluster, node1, "systemctl is-active podplay-network.service").ok
    broken = node_exec(
        cluster,
        node1,
        "systemctl stop podplay-network.service && "
        f"ip route del {other.pod_cidr} && iptables -F PODPLAY-NET-FORWARD && "
        "iptables -t nat -F PODPLAY-NET-POSTROUTING",
    )
    assert broken.ok, broken.stderr
    check = node_exec(cluster, node1, "python3 /opt/podplay/podplay-node.pyz network apply --check")
    assert f"route {other.pod_cidr} via {other.address}" in check.stdout
    restarted = node_exec(cluster, node1, "systemctl start podplay-network.service")
    assert restarted.ok, restarted.stderr
    routes = node_exec(cluster, node1, "ip -4 route show").stdout
    assert f"{other.pod_cidr} via {other.address}" in routes
    rules = node_exec(cluster, node1, "iptables -S PODPLAY-NET-FORWARD").stdout
    assert "-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -j ACCEPT" in rules
    after = node_exec(cluster, node1, "python3 /opt/podplay/podplay-node.pyz network apply --json")
    assert after.stdout.strip() == '{"changed": false, "changes": []}'


def test_the_repairer_puts_a_deleted_route_back_at_once(cluster):
    node1, other = cluster.node("node1"), cluster.node("node3")
    deleted = node_exec(cluster, node1, f"ip route del {other.pod_cidr}")
    assert deleted.ok, deleted.stderr
    started = time.monotonic()

    def route_back() -> bool:
        routes = node_exec(cluster, node1, "ip -4 route show").stdout
        return f"{other.pod_cidr} via {other.address}" in routes

    wait_until(route_back, timeout=5, interval=0.05, what="the route put back")
    print(f"\nroute put back in {time.monotonic() - started:.2f} s (rtnetlink event)")


def test_node_bundle_runs_on_the_node_with_the_docker_sdk(cluster):
    version = node_exec(cluster, "node2", "python3 /opt/podplay/podplay-node.pyz version")
    assert version.ok and version.stdout.strip()
    sdk = node_exec(
        cluster,
        "node2",
        "PYTHONPATH=/opt/podplay/podplay-node.pyz python3 -c "
        "'import docker; print(docker.from_env().version()[\"Version\"])'",
    )
    assert sdk.ok, sdk.stderr
    assert sdk.stdout.strip()[0].isdigit()
