"""Node faults and what a pod may reach (issue 12 items 1, 6, 9, 12), on the shared cluster.

One busybox httpd pod per node behind one ClusterIP service. Each test injects its fault,
checks what clients see, and leaves the cluster as it found it: a restarted node is booted
and routed again, a FIFO removed, a stopped engine continued. The node restart runs last.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any

import pytest
from helpers import node_exec, pod_exec, wait_until
from node_faults import (
    SERVICE_IP,
    UNUSED_SERVICE_IP,
    ClientLoop,
    apply,
    pod_ip,
    ready_endpoints,
    service,
    wait_booted,
    wait_routed,
    web_pod,
)

from podplay.artifacts import images
from podplay.control.agent_client import AgentClient, AgentError, access_from_inventory
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

PODS = {"chaos-1", "chaos-2", "chaos-3"}
NODE_ONLY_PORTS = (22, 2379, 2380, 10250)


BUNDLE = "/opt/podplay/podplay-node.pyz"


@pytest.fixture(scope="module")
def chaos(cluster: Cluster, busybox_image):  # type: ignore[no-untyped-def]
    assert len(cluster.nodes) == 3, "the chaos tests expect the 3-node test cluster"
    pods = {n.name: [web_pod(cluster, n.index, busybox_image)] for n in cluster.nodes}
    imgs = [images.ensure_pause_image(), busybox_image]
    apply(cluster, pods, [service(cluster)], imgs)
    wait_routed(cluster, PODS)
    yield {"pods": pods, "images": imgs}
    apply(cluster, {}, [], imgs)  # leave the cluster without our pods and service


@pytest.fixture(scope="module")
def agents(cluster: Cluster) -> dict[str, AgentClient]:
    access = access_from_inventory(cluster.inventory, cluster.name)
    return {n.name: access.client(access.node(n.name)) for n in cluster.nodes}


def pod_status(agent: AgentClient, name: str) -> dict[str, Any] | None:
    return next((p for p in agent.pods()["pods"] if p["name"] == name), None)


def status_once_up(agent: AgentClient, name: str) -> dict[str, Any] | None:
    """`pod_status`, None while the agent of a node that just booted is not listening yet."""
    try:
        return pod_status(agent, name)
    except AgentError:
        return None


def agent_threads(cluster: Cluster, node: str) -> int:
    pid = node_exec(cluster, node, "systemctl show -p MainPID --value podplay-agent").stdout
    return int(node_exec(cluster, node, f"ls /proc/{pid.strip()}/task | wc -l").stdout)


# -- what a pod may reach -------------------------------------------------------------------

LISTEN = (
    "import socket, sys, time\n"
    "socks = []\n"
    "for port in (2379, 2380):\n"
    "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "    try:\n"
    "        s.bind(('0.0.0.0', port)); s.listen(16); socks.append(s)\n"
    "    except OSError:\n"
    "        pass  # the store listens there already\n"
    "time.sleep(120)\n"
)


def test_a_pod_is_refused_every_nodes_ssh_agent_and_store_ports(cluster: Cluster, chaos):
    listeners = []
    for n in cluster.nodes:  # something listens on every node-only port of every node
        listeners.append(subprocess.Popen(
            ["docker", "exec", n.container, "python3", "-c", LISTEN],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    try:
        time.sleep(1)
        targets = [(n.address, p) for n in cluster.nodes for p in NODE_ONLY_PORTS]
        targets += [(cluster.nodes[0].pod_cidr.replace(".0/24", ".1"), 22)]  # the bridge
        for address, port in targets:
            # a node reaches it (so a refusal below is the rule, not a closed port) ...
            probe = f"import socket; socket.create_connection(('{address}', {port}), 3)"
            assert node_exec(cluster, "node2", ["python3", "-c", probe]).ok, (address, port)
            # ... a pod on node1 is refused at once
            started = time.monotonic()
            res = pod_exec(cluster, "node1", "chaos-1", f"nc -w 3 {address} {port} </dev/null")
            assert res.rc != 0 and "refused" in (res.stdout + res.stderr).lower(), (
                address, port, res)  # fmt: skip
            assert time.monotonic() - started < 2.5, (address, port)
    finally:
        for p in listeners:
            p.kill()
    # what pods must still reach: a service, cluster DNS, another pod
    res = pod_exec(cluster, "node1", "chaos-1", "nslookup chaos")
    assert SERVICE_IP in res.stdout, res
    answer = pod_exec(
        cluster,
        "node1",
        "chaos-1",
        f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {SERVICE_IP} 80 | tail -n 1",
    )
    assert answer.stdout.strip() in PODS, answer  # fmt: skip
    other = pod_exec(cluster, "node1", "chaos-1",
                     f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {pod_ip(cluster, 3)} 8080 "
                     "| tail -n 1")  # fmt: skip
    assert other.stdout.strip() == "chaos-3", other


def test_an_unused_cluster_ip_is_refused_at_once_from_a_node_and_a_pod(cluster: Cluster, chaos):
    for target, port in ((UNUSED_SERVICE_IP, 80), (SERVICE_IP, 81)):  # no service / no port
        started = time.monotonic()
        res = node_exec(cluster, "node2", f"curl -sS -m 5 http://{target}:{port}/")
        assert res.rc == 7 and "Couldn't connect" in res.stderr, (target, res)
        assert time.monotonic() - started < 2.5, target
        started = time.monotonic()
        res = pod_exec(cluster, "node1", "chaos-1", f"nc -w 5 {target} {port} </dev/null")
        assert res.rc != 0 and "refused" in (res.stdout + res.stderr).lower(), (target, res)
        assert time.monotonic() - started < 2.5, target
    res = pod_exec(cluster, "node1", "chaos-1", "nslookup chaos.default.svc.cluster.local")
    assert SERVICE_IP in res.stdout, res  # DNS at the DNS IP still answers


# -- the agent API's limits -----------------------------------------------------------------

HOLD = r"""
import json, socket, ssl, sys, time
address = sys.argv[1]
context = ssl.create_default_context(cafile="/etc/podplay/pki/ca.crt")
half = context.wrap_socket(socket.create_connection((address, 10250), 5), server_hostname=address)
half.sendall(b"GET /v1/pods HTTP/1.1\r\nHost: x\r\n")  # never finished (one of the 32)
conns, refused = [], 0
for _ in range(200):
    s = socket.create_connection((address, 10250), 5)
    conns.append(s)
time.sleep(1.5)
held = []
for s in conns:
    s.setblocking(False)
    try:
        data = s.recv(4096)
    except BlockingIOError:
        held.append(s)  # waiting for our TLS hello
        continue
    except ConnectionResetError:
        data = b""
    refused += data == b""  # over a cap: closed at once, before TLS, without an answer
print(json.dumps({"refused": refused, "held": len(held)}), flush=True)
sys.stdin.readline()  # the test counts the agent's threads meanwhile
start = time.time()
closed = {}
for name, socks in (("idle", held), ("half", [half])):
    for s in socks:
        s.setblocking(True)
        s.settimeout(30)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    closed[name] = round(time.time() - start, 2)
print(json.dumps(closed), flush=True)
"""


def test_idle_and_half_sent_connections_cost_no_more_than_the_caps(cluster: Cluster, chaos):
    """A client (node2's address: where a pod of node2 would come from, were it not refused)
    opens 200 idle connections to node1's agent and one with half a request."""
    before = agent_threads(cluster, "node1")
    proc = subprocess.Popen(
        ["docker", "exec", "-i", cluster.node("node2").container, "python3", "-c", HOLD,
         cluster.node("node1").address],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    first = json.loads(proc.stdout.readline())
    during = agent_threads(cluster, "node1")
    started = time.monotonic()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    closed = json.loads(proc.stdout.readline())
    proc.wait(30)
    assert first["held"] <= 32 and first["refused"] >= 200 - 32, first
    assert during - before <= 33, (before, during)  # the cap, and the half-sent one
    assert closed["idle"] <= 12 and closed["half"] <= 12, closed  # 10 s request deadline
    assert time.monotonic() - started < 15
    wait_until(lambda: agent_threads(cluster, "node1") <= before + 2, timeout=15,
               what="the agent's threads back to idle")  # fmt: skip


# -- the pods directory and a wedged loop ---------------------------------------------------


def test_a_fifo_in_the_pods_directory_does_not_hide_a_killed_container(
    cluster: Cluster, chaos, agents
):
    """The pods directory is what an agent runs from without the store's binding table (the
    table is taken out here, as `destroy --keep-cluster` does, and written again after)."""
    agent = agents["node3"]
    node_exec(cluster, "node1", f"python3 {BUNDLE} store clear-table", check=True)
    node_exec(cluster, "node3", "mkfifo /etc/podplay/pods/default_x.json", check=True)
    try:
        x = wait_until(lambda: pod_status(agent, "x"), timeout=10, what="the FIFO reported")
        assert (x["phase"], x["reason"]) == ("Failed", "InvalidManifest"), x
        assert "default_x.json: not a regular file (a FIFO)" in x["message"], x
        before = pod_status(agent, "chaos-3")
        assert before and before["ready"]
        count = before["containers"][0]["restart_count"]
        cid = before["containers"][0]["container_id"]
        node_exec(cluster, "node3", f"docker kill {cid}", check=True)
        killed = time.monotonic()
        wait_until(
            lambda: (pod_status(agent, "chaos-3") or {}).get("containers", [{}])[0]
            .get("restart_count", count) > count
            or not (pod_status(agent, "chaos-3") or {}).get("ready", True),
            timeout=5, interval=0.1, what="the agent noticing the killed container",
        )  # fmt: skip
        assert time.monotonic() - killed < 3
        assert agent.healthz()[0]
    finally:
        node_exec(cluster, "node3", "rm -f /etc/podplay/pods/default_x.json")
    wait_until(lambda: (pod_status(agent, "chaos-3") or {}).get("ready"), timeout=30,
               what="chaos-3 ready again")  # fmt: skip
    wait_until(lambda: pod_status(agent, "x") is None, timeout=10, what="x gone")
    apply(cluster, chaos["pods"], [service(cluster)], chaos["images"])  # the table back


def test_a_wedged_engine_makes_the_nodes_pods_unready_until_it_answers(
    cluster: Cluster, chaos, agents
):
    """dockerd stopped (SIGSTOP): the agent's next look at the engine hangs; within the
    resync period plus the 5 s stall, node3's pods are unready and routed nowhere; once the
    engine answers again, they come back."""
    agent = agents["node3"]
    node_exec(cluster, "node3", "kill -STOP $(pidof dockerd)", check=True)
    try:
        stopped = time.monotonic()
        wait_until(lambda: not (pod_status(agent, "chaos-3") or {}).get("ready", True),
                   timeout=25, interval=0.2, what="chaos-3 unready")  # fmt: skip
        assert time.monotonic() - stopped < 17  # resync (10 s) + stall (5 s) + slack
        assert not agent.healthz()[0] and "stuck" in agent.healthz()[1]
        wait_until(lambda: "chaos-3" not in ready_endpoints(cluster, "node1"), timeout=5,
                   what="node1 no longer routing to chaos-3")  # fmt: skip
    finally:
        node_exec(cluster, "node3", "kill -CONT $(pidof dockerd)", check=True)
    wait_until(lambda: (pod_status(agent, "chaos-3") or {}).get("ready"), timeout=30,
               what="chaos-3 ready again")  # fmt: skip
    wait_routed(cluster, PODS)


# -- a node restart (last: it takes a node away) ----------------------------------------------


class Snapshots(threading.Thread):
    """Every snapshot one node's agent serves, with when it came (reconnecting)."""

    def __init__(self, agent: AgentClient) -> None:
        super().__init__(daemon=True)
        self.agent = agent
        self.seen: list[tuple[float, list[dict]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for event in self.agent.watch(timeout=3):
                    if event["type"] == "snapshot":
                        self.seen.append((time.monotonic(), event["pods"]))
                    if self.stop.is_set():
                        return
            except (AgentError, OSError, ValueError):
                time.sleep(0.1)


def test_a_node_restart_sends_no_request_to_a_pod_that_is_not_running(
    cluster: Cluster, chaos, agents
):
    """`docker restart` of node2 under a client loop on node1 against the service: no request
    times out or finds no host (none is sent to a pod that does not run); chaos-2 serves again
    afterwards, and node2's agent never calls a container from before the restart ready."""
    wait_routed(cluster, PODS)
    old = {c["container_id"] for c in pod_status(agents["node2"], "chaos-2")["containers"]}
    snapshots = Snapshots(agents["node2"])
    snapshots.start()
    client = ClientLoop(cluster, "node1", SERVICE_IP, 80)
    try:
        time.sleep(3)
        restarted = time.monotonic()
        subprocess.run(["docker", "restart", "-t", "30", cluster.node("node2").container],
                       check=True, capture_output=True)  # fmt: skip
        back = time.monotonic()
        wait_booted(cluster, "node2")
        wait_until(lambda: (status_once_up(agents["node2"], "chaos-2") or {}).get("ready"),
                   timeout=120, interval=0.5, what="chaos-2 ready after the restart")  # fmt: skip
        wait_routed(cluster, PODS)
        recovered = time.monotonic() - restarted
        time.sleep(3)
    finally:
        result = client.finish()
        snapshots.stop.set()
    stats = result["stats"]
    print(f"node restart: {stats}, answers {result['answers']}, recovered in {recovered:.1f}s")
    assert stats["timeout"] == 0 and stats["unreachable"] == 0, result
    assert stats["other"] == 0 and stats["reset"] == 0, result
    assert stats["ok"] > 100 and result["answers"].get("chaos-2"), result
    after = [pods for t, pods in snapshots.seen if t > back - 1]
    assert after, "no snapshot from node2 after its restart"
    stale = [
        (p["name"], c["container_id"])
        for pods in after
        for p in pods
        if p["ready"]
        for c in p["containers"]
        if c["container_id"] in old
    ]
    assert not stale, f"node2 called containers from before its restart ready: {stale}"
