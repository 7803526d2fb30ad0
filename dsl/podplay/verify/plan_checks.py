"""The checks `podplay verify` runs: one test per promise of the applied plan.

Run by `podplay verify PROGRAM` (or `pytest <this file> --podplay-program PROGRAM`); the
cases come from the plan through the plugin (`podplay.verify.plugin`), the node commands
from `podplay.verify.checks`. Every command runs on the node over SSH (testinfra).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from podplay.node.contract import defaults
from podplay.plan import PodPlan
from podplay.verify import checks, network_checks
from podplay.verify.checks import ServiceOnNode
from podplay.verify.network_checks import FromNode

AGENT_PORT = defaults.AGENT_API_PORT


def test_node_healthy(podplay_cluster: Any, podplay_check_node: str) -> None:
    """The engine, agent and proxy run, and the agent answers on its address (over TLS)."""
    host = podplay_cluster.host(podplay_check_node)
    stopped = [
        unit
        for unit in ("docker", "podplay-agent", "podplay-proxy")
        if not host.service(unit).is_running
    ]
    assert not stopped, f"not running on {podplay_check_node}: {', '.join(stopped)}"
    address = podplay_cluster.node_address(podplay_check_node)
    # HTTPS only, its certificate checked against the cluster CA the node holds
    answer = host.run(
        f"curl -s -m 3 --cacert {defaults.CA_FILE} https://{address}:{AGENT_PORT}/healthz"
    )
    assert answer.stdout.strip() == "ok", f"agent /healthz said {answer.stdout!r}"


def _containers(host: Any, pod: PodPlan) -> dict[str, list[tuple[str, str]]]:
    listing = host.run(checks.pod_containers_command(pod))
    assert listing.rc == 0, f"docker ps failed on {pod.node}: {listing.stderr}"
    seen: dict[str, list[tuple[str, str]]] = {}
    for line in listing.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            seen.setdefault(parts[0], []).append((parts[1], parts[2]))
    return seen


def test_pod_running(podplay_cluster: Any, podplay_check_pod: PodPlan) -> None:
    """The pod's sandbox holds the planned IP on the planned node; its containers run."""
    pod = podplay_check_pod
    host = podplay_cluster.host(pod.node)
    seen = _containers(host, pod)
    running = {
        name: [cid for state, cid in found if state == "running"] for name, found in seen.items()
    }
    assert running.get("POD"), f"no running sandbox for {pod.name} on {pod.node} ({seen})"
    wanted = [c["name"] for c in pod.manifest["containers"]]
    missing = [name for name in wanted if not running.get(name)]
    assert not missing, f"containers not running in {pod.name} on {pod.node}: {missing}"
    ip = host.run(checks.sandbox_ip_command(running["POD"][0])).stdout.strip()
    assert ip == pod.ip, f"{pod.name} has IP {ip!r}, planned {pod.ip}"


def test_service_routing(podplay_cluster: Any, podplay_check_route: ServiceOnNode) -> None:
    """The node's NAT table has the service, and its addresses answer from this node
    (or refuse at once when it has no endpoint)."""
    case = podplay_check_route
    host = podplay_cluster.host(case.node)
    nat = host.run("iptables-save -t nat").stdout
    missing = [m for m in case.rule_markers() if m not in nat]
    assert not missing, f"{case.id}: no NAT rule with {missing}"
    targets = case.targets()
    results = json.loads(host.run(checks.connect_command(targets)).stdout)
    expected = "ok" if case.has_endpoints else "refused"
    wrong = [
        f"{t.what} {t.address}:{t.port} -> {r}"
        for t, r in zip(targets, results, strict=True)
        if r != expected
    ]
    assert not wrong, f"{case.id}: expected {expected}: {'; '.join(wrong)}"


def test_service_dns(podplay_cluster: Any, podplay_check_service: ServiceOnNode) -> None:
    """Cluster DNS answers the service's name from this node."""
    case = podplay_check_service
    plan = podplay_cluster.plan
    host = podplay_cluster.host(case.node)
    name = case.dns_name(plan.cluster.cluster_domain)
    qtype, expected = case.dns_expectation()
    out = host.run(checks.dns_command(name, qtype, plan.cluster.dns_ip))
    assert out.rc == 0, f"DNS query for {name} failed on {case.node}: {out.stderr.strip()}"
    answer = json.loads(out.stdout)
    texts = [text for rtype, text in answer["answers"] if rtype == qtype]
    assert expected in texts, f"{name} on {case.node}: expected {expected}, got {answer}"


def test_pod_network(podplay_cluster: Any, podplay_check_from_node: FromNode) -> None:
    """From a pod on this node, a pod on every other node answers (routes, forwarding, the
    way back)."""
    case = podplay_check_from_node
    if not case.targets:
        pytest.skip(f"{case.node} is the only node: no other node to reach")
    host = podplay_cluster.host(case.node)
    out = host.run(network_checks.in_pod_netns(case, network_checks.reach_script(case.targets)))
    assert out.rc == 0, f"pod network check could not run on {case.node}: {out.stderr.strip()}"
    answer = json.loads(out.stdout)
    failed = network_checks.unreachable(case, answer["results"])
    assert not failed, f"pod network broken (from {answer['from']}): {'; '.join(failed)}"


def test_outside_dns(podplay_cluster: Any, podplay_check_from_node: FromNode) -> None:
    """A name outside the cluster (one the node's own resolvers know) resolves through
    cluster DNS from a pod on this node."""
    case = podplay_check_from_node
    host = podplay_cluster.host(case.node)
    found = host.run(network_checks.outside_name_command(case))
    assert found.rc == 0, f"resolver check could not run on {case.node}: {found.stderr.strip()}"
    known = json.loads(found.stdout)
    assert "error" not in known, (
        f"{case.node}'s own resolvers do not answer, so no pod there resolves a name outside "
        f"the cluster: {known.get('error')}"
    )
    if "none" in known:
        pytest.skip(f"no name outside the cluster to ask for: {known['none']}")
    name = known["name"]
    script = checks.dns_script(name, checks.A, case.dns_ip)
    out = host.run(network_checks.in_pod_netns(case, script))
    why = out.stderr.strip().splitlines()[-1:] or [f"exit status {out.rc}"]
    assert out.rc == 0, f"cluster DNS {case.dns_ip} did not answer {name} on {case.node}: {why[0]}"
    answer = json.loads(out.stdout)
    addresses = [text for rtype, text in answer["answers"] if rtype == checks.A]
    assert answer["rcode"] == 0 and addresses, (
        f"cluster DNS {case.dns_ip} on {case.node} answered {name} (outside the cluster, "
        f"{known['address']} by {known['server']}) with rcode {answer['rcode']}: {answer}"
    )
