"""testinfra on every node, over SSH as for real hosts: systemd, docker, sshd, pod routes."""

from __future__ import annotations

import pytest
from helpers import NODE_COUNT

pytestmark = pytest.mark.integration

NODES = [f"node{i}" for i in range(1, NODE_COUNT + 1)]


@pytest.mark.parametrize("node", NODES)
def test_systemd_is_running(hosts, node):
    state = hosts[node].run("systemctl is-system-running")
    assert state.stdout.strip() == "running", hosts[node].run("systemctl --failed").stdout


@pytest.mark.parametrize("node", NODES)
def test_docker_is_active_and_enabled(hosts, node):
    docker = hosts[node].service("docker")
    assert docker.is_running
    assert docker.is_enabled


@pytest.mark.parametrize("node", NODES)
def test_sshd_listens(hosts, node):
    assert hosts[node].socket("tcp://0.0.0.0:22").is_listening


@pytest.mark.parametrize("node", NODES)
def test_routes_to_every_other_node_pod_cidr(cluster, hosts, node):
    routes = hosts[node].check_output("ip -4 route show")
    for other in cluster.nodes:
        if other.name != node:
            assert f"{other.pod_cidr} via {other.address} " in routes + " "


@pytest.mark.parametrize("node", NODES)
def test_forwarding_and_network_service(hosts, node):
    host = hosts[node]
    assert host.sysctl("net.ipv4.ip_forward") == 1
    assert host.service("podplay-network").is_enabled
    assert host.service("podplay-network").is_running  # the repairer
    assert host.file("/etc/podplay/network.json").mode == 0o644
