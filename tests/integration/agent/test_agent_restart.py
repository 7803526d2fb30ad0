"""Restarts: of the agent (pods are adopted, not restarted, and never look unready) and of
the whole node (the pods come back)."""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any

import pytest
from agent_helpers import (
    SLEEPER,
    client_for,
    container,
    containers_of,
    cstatus,
    pod_manifest,
    remove_pod,
    running_ready,
    wait_pod,
    write_pod,
)
from helpers import node_exec, wait_until

from podplay.control.agent_client import AgentClient, AgentError, ClusterAccess
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

NODE = "node2"
NAMES = ("steady", "pair")


def ip(cluster: Cluster, host: int) -> str:
    return cluster.node(NODE).pod_cidr.rsplit(".", 1)[0] + f".{host}"


@pytest.fixture(scope="module")
def agent(access: ClusterAccess) -> AgentClient:
    return client_for(access, NODE)


@pytest.fixture(scope="module")
def pods(cluster: Cluster, busybox_on_nodes, agent: AgentClient):  # type: ignore[no-untyped-def]
    image = busybox_on_nodes.ref
    ready = {"type": "exec", "command": ["test", "-f", "/tmp/ready"], "period": 1,
             "failure_threshold": 1}  # fmt: skip
    write_pod(cluster, NODE, pod_manifest("steady", ip(cluster, 221), [
        container("app", image, "touch /tmp/ready; " + SLEEPER, readiness=ready)]))  # fmt: skip
    write_pod(cluster, NODE, pod_manifest("pair", ip(cluster, 222), [
        container("a", image, SLEEPER), container("b", image, SLEEPER)]))  # fmt: skip
    for name in NAMES:
        wait_pod(agent, name, running_ready, what="Running and Ready")
    yield
    for name in NAMES:
        remove_pod(cluster, NODE, name)
    wait_until(
        lambda: not any(containers_of(cluster, NODE, n) for n in NAMES),
        timeout=20, what="test pods removed",
    )  # fmt: skip


def ids(cluster: Cluster) -> dict[str, str]:
    return {
        c["name"]: c["id"]
        for n in NAMES
        for c in containers_of(cluster, NODE, n)
        if c["state"] == "running"
    }


def agent_pid(cluster: Cluster) -> str:
    out = node_exec(cluster, NODE, "systemctl show -p MainPID --value podplay-agent", check=True)
    return out.stdout.strip()


class Watcher(threading.Thread):
    """Follows the watch stream as a proxy would, reconnecting when the agent goes away."""

    def __init__(self, agent: AgentClient) -> None:
        super().__init__(daemon=True)
        self.agent = agent
        self.snapshots: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.last_line = time.monotonic()
        self.max_silence = 0.0  # longest time without a line (2 s: the node counts as gone)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for event in self.agent.watch(timeout=3):
                    now = time.monotonic()
                    self.max_silence = max(self.max_silence, now - self.last_line)
                    self.last_line = now
                    if event["type"] == "snapshot":
                        self.snapshots.append(event)
                    if self.stop.is_set():
                        return
            except (AgentError, OSError, ValueError):
                time.sleep(0.1)


@pytest.mark.parametrize(
    "how",
    ["systemctl restart podplay-agent", "systemctl kill -s KILL podplay-agent"],
    ids=["restart", "crash"],
)
def test_agent_restart_adopts_running_pods(cluster: Cluster, pods, agent, how: str) -> None:
    before = ids(cluster)
    assert len(before) == 2 + 3  # two sandboxes, three app containers
    counts = {n: [c["restart_count"] for c in wait_pod(agent, n, running_ready)["containers"]]
              for n in NAMES}  # fmt: skip
    old_pid = agent_pid(cluster)
    watcher = Watcher(agent)
    watcher.start()
    time.sleep(0.5)
    node_exec(cluster, NODE, how, check=True)
    wait_until(lambda: agent_pid(cluster) not in ("", "0", old_pid), timeout=15, what="new agent")
    # the new agent has made a full pass when its events show it connected to the engine
    wait_until(lambda: agent.healthz()[0], timeout=20, what="agent healthy")
    time.sleep(2)
    watcher.stop.set()
    assert ids(cluster) == before  # not one container restarted
    for n in NAMES:
        p = wait_pod(agent, n, running_ready)
        assert [c["restart_count"] for c in p["containers"]] == counts[n]
    # what a proxy saw across the restart: the pods never turned unready
    seen = [p for s in watcher.snapshots for p in s["pods"] if p["name"] in NAMES]
    assert seen and all(p["ready"] for p in seen), [
        (p["name"], p["ready"], p["phase"]) for p in seen if not p["ready"]
    ]
    # and the stream was back before the other nodes' proxies would call this node gone
    assert watcher.max_silence < 2.0, f"no line for {watcher.max_silence:.2f} s"


def test_node_restart_brings_the_pods_back(cluster: Cluster, pods, agent) -> None:
    before = ids(cluster)
    counts = {n: cstatus(wait_pod(agent, n, running_ready), "a" if n == "pair" else "app")
              ["restart_count"] for n in NAMES}  # fmt: skip
    node = cluster.node(NODE)
    subprocess.run(["docker", "restart", "-t", "20", node.container], check=True,
                   capture_output=True)  # fmt: skip
    wait_until(lambda: agent.healthz()[0], timeout=120, interval=1, what="agent back")
    for n in NAMES:
        p = wait_pod(agent, n, running_ready, timeout=60, what="pod back after reboot")
        c = cstatus(p, "a" if n == "pair" else "app")
        assert c["restart_count"] == counts[n] + 1  # a node restart counts as a restart
        assert c["last_termination"] is not None  # the attempt before is kept, for logs -p
    after = ids(cluster)
    assert len(after) == len(before) and not set(after.values()) & set(before.values())
    # leave the node as other tests expect it: systemd settled, SSH answering
    wait_until(
        lambda: node_exec(cluster, NODE, "systemctl is-system-running").stdout.strip()
        in ("running", "degraded"),
        timeout=60, interval=1, what="node settled",
    )  # fmt: skip
