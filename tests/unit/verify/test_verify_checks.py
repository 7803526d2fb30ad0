"""Checks derived from a plan, the node commands they run, and the pytest plugin."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import podplay as pp
from podplay.dsl import Stack
from podplay.node.dns import wire
from podplay.plan import ClusterFacts, NodeFacts, Plan, plan
from podplay.verify import checks
from podplay.verify.runner import pytest_argv


def small_plan() -> Plan:
    with Stack(program="app.py") as stack:
        pp.Cluster("edge", nodes=2)
        web = pp.Deployment("web", replicas=2, containers=[pp.Container("web", image="busybox")])
        pp.Service("web", selector=web, type="LoadBalancer", ports=[pp.ServicePort(80, 8080)])
        pp.Service("lonely", selector={"app": "nobody"}, ports=[pp.ServicePort(81, 8081)])
        pp.Service("ext", type="ExternalName", external_name="db.example.test")
    facts = ClusterFacts(
        nodes=[
            NodeFacts(name=f"node{i}", address=f"172.30.7.{10 + i}", pod_cidr=f"10.244.{i}.0/24")
            for i in (1, 2)
        ],
        lb_pool="172.30.7.239-172.30.7.254",
    )
    return plan(stack, None, facts, {})


def test_every_service_is_checked_from_every_node() -> None:
    p = small_plan()
    cases = {c.id: c for c in checks.services_on_nodes(p)}
    assert sorted(cases) == [
        f"default/{s}@node{i}" for s in ("ext", "lonely", "web") for i in (1, 2)
    ]
    web = cases["default/web@node2"]
    lb_ip = web.service.load_balancer_ip
    node_port = web.service.ports[0].node_port
    assert [(t.what, t.address, t.port) for t in web.targets()] == [
        ("ClusterIP", web.service.cluster_ip, 80),
        ("NodePort", "172.30.7.12", node_port),
        ("LoadBalancer", lb_ip, 80),
    ]
    assert web.rule_markers() == [
        f"-d {web.service.cluster_ip}/32",
        f"--dport {node_port}",
        f"-d {lb_ip}/32",
    ]
    assert web.dns_expectation() == (checks.A, web.service.cluster_ip)
    assert not cases["default/lonely@node1"].has_endpoints
    ext = cases["default/ext@node1"]
    assert ext.targets() == [] and ext.rule_markers() == []
    assert ext.dns_expectation() == (checks.CNAME, "db.example.test")
    assert ext.dns_name("cluster.local") == "ext.default.svc.cluster.local"


def test_connect_command_tells_ok_from_refused(tcp_ports: tuple[int, int]) -> None:
    open_port, closed_port = tcp_ports
    targets = [
        checks.Target("ClusterIP", "127.0.0.1", open_port),
        checks.Target("NodePort", "127.0.0.1", closed_port),
    ]
    cmd = checks.connect_command(targets).replace("python3 ", f"{sys.executable} ", 1)
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["ok", "refused"]


def test_dns_command_reads_a_real_dns_answer() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def answer_once() -> None:
        data, peer = sock.recvfrom(512)
        request = wire.parse(data)
        q = request.questions[0]
        rr = wire.RR(q.name, wire.CNAME, wire.IN, 5, wire.rdata_name("db.example.test"))
        sock.sendto(wire.response(request, 0, [rr]), peer)

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    cmd = checks.dns_command(
        "ext.default.svc.cluster.local", checks.CNAME, "127.0.0.1", port=sock.getsockname()[1]
    ).replace("python3 ", f"{sys.executable} ", 1)
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=True, timeout=10)
    thread.join(5)
    assert json.loads(out.stdout) == {"rcode": 0, "answers": [[5, "db.example.test"]]}


def test_pod_commands_name_the_pod() -> None:
    pod = small_plan().pods[0]
    assert f"label=io.podplay.pod={pod.name}" in checks.pod_containers_command(pod)


def test_sandbox_ip_is_read_in_the_pods_namespace(tmp_path: Path) -> None:
    """The command run with stand-ins for docker and nsenter that answer as the real ones."""
    (tmp_path / "docker").write_text(
        '#!/bin/sh\n[ "$*" = "inspect -f {{.State.Pid}} abc" ] && echo 4242\n'
    )
    (tmp_path / "nsenter").write_text(
        '#!/bin/sh\n[ "$*" = "-t 4242 -n ip -4 -o addr show dev eth0" ] || exit 1\n'
        "echo '7: eth0    inet 10.244.2.3/24 brd 10.244.2.255 scope global eth0\\"
        "       valid_lft forever preferred_lft forever'\n"
    )
    for tool in ("docker", "nsenter"):
        (tmp_path / tool).chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    cmd = checks.sandbox_ip_command("abc")
    done = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, text=True, timeout=10)
    assert done.stdout.strip() == "10.244.2.3", done


def test_runner_points_pytest_at_the_checks_and_the_stack(tmp_path: Path) -> None:
    argv = pytest_argv(Path("app.py"), "shop", tmp_path / "pytest.ini", ["-k", "dns"])
    assert argv[1:3] == ["-m", "pytest"] and argv[3].endswith("plan_checks.py")
    assert argv[argv.index("--podplay-stack") + 1] == "shop"
    assert argv[-2:] == ["-k", "dns"]


USER_TESTS = """
def test_plan(podplay_plan):
    assert podplay_plan.cluster.name == "edge"

def test_each_node(podplay_node):
    pass

def test_outputs(podplay_cluster):
    assert podplay_cluster.nodes == ["node1", "node2"]
    assert podplay_cluster.node_address("node2") == "172.30.7.12"
"""


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A pytest of its own in `directory` (the plugin loads from its installed entry point)."""
    (directory / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_plugin_gives_user_tests_the_cluster(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "plan.json").write_text(small_plan().to_json())
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    inventory = str(build / "inventory.yml")
    collected = run_pytest(tmp_path, "--podplay-inventory", inventory, "--collect-only", "-q")
    assert "test_user.py::test_each_node[node1]" in collected.stdout
    assert "test_user.py::test_each_node[node2]" in collected.stdout
    ran = run_pytest(tmp_path, "--podplay-inventory", inventory, "-k", "plan or outputs")
    assert ran.returncode == 0, ran.stdout
    assert "2 passed, 2 deselected" in ran.stdout


def test_plugin_skips_without_a_cluster(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = run_pytest(tmp_path, "-rs")
    assert result.returncode == 0, result.stdout
    assert "3 skipped" in result.stdout
    assert "no podplay cluster: pass --podplay-program" in result.stdout


def test_plugin_says_why_a_cluster_cannot_be_loaded(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text("def test_plan(podplay_plan):\n    pass\n")
    result = run_pytest(tmp_path, "--podplay-inventory", str(tmp_path / "nowhere" / "inv.yml"))
    assert result.returncode == 1
    assert "1 error" in result.stdout  # a fixture error: the message says what is missing
    assert "plan.json is missing (the build directory of an up)" in result.stdout
