"""Helpers for the agent's integration tests: test pods written straight into a node's
manifest directory (as the `pod_manifests` module would), and the agent API as the
controller reaches it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from helpers import node_exec

from podplay.control.agent_client import AgentClient, ClusterAccess
from podplay.substrate import Cluster

NAMESPACE = "agenttest"
PODS_DIR = "/etc/podplay/pods"


def pod_manifest(
    name: str,
    ip: str,
    containers: list[dict[str, Any]],
    *,
    restart_policy: str = "Always",
    grace: int = 2,
    uid: str | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "podplay/v1",
        "kind": "Pod",
        "name": name,
        "namespace": NAMESPACE,
        "uid": uid or f"agenttest-{name}-1",
        "labels": {"app": name, "suite": "agent"},
        "owner": None,
        "template_hash": "t1",
        "ip": ip,
        "hostname": name,
        "restart_policy": restart_policy,
        "termination_grace_period": grace,
        "dns": {
            "nameservers": ["10.96.0.10"],
            "searches": [f"{NAMESPACE}.svc.cluster.local", "svc.cluster.local"],
            "options": ["ndots:5"],
        },
        "containers": containers,
    }


def container(name: str, image: str, script: str, **extra: Any) -> dict[str, Any]:
    """A busybox container running `sh -c script` (traps TERM so stops are quick)."""
    return {
        "name": name,
        "image": image,
        "command": ["sh", "-c", script],
        "args": None,
        "env": {"POD_CONTAINER": name},
        "ports": [],
        "resources": {"cpu_millis": 100, "memory_bytes": 32 * 1024 * 1024},
        "readiness": None,
        "liveness": None,
        "startup": None,
        **extra,
    }


SLEEPER = "trap 'exit 0' TERM; echo started $POD_CONTAINER; while :; do sleep 1; done"


def write_file(cluster: Cluster, node: str, name: str, data: str | bytes) -> None:
    """Atomically (temp + rename) write a file into the node's manifest directory."""
    tmp = f"{PODS_DIR}/.{name}.tmp"
    node_exec(
        cluster, node, f"mkdir -p {PODS_DIR} && cat > {tmp} && mv {tmp} {PODS_DIR}/{name}",
        input=data, check=True,
    )  # fmt: skip


def write_pod(cluster: Cluster, node: str, manifest: dict[str, Any]) -> None:
    write_file(cluster, node, f"{manifest['namespace']}_{manifest['name']}.json",
               json.dumps(manifest))  # fmt: skip


def remove_pod(cluster: Cluster, node: str, name: str, namespace: str = NAMESPACE) -> None:
    node_exec(cluster, node, f"rm -f {PODS_DIR}/{namespace}_{name}.json", check=True)


def docker(cluster: Cluster, node: str, *args: str, check: bool = True) -> str:
    """`docker ...` on the node's own engine; stdout."""
    return node_exec(cluster, node, ["docker", *args], check=check).stdout.strip()


def containers_of(cluster: Cluster, node: str, pod: str) -> list[dict[str, str]]:
    """The pod's containers on the node's engine (by label), newest first."""
    out = docker(
        cluster, node, "ps", "-a", "--no-trunc",
        "--filter", f"label=io.podplay.pod={pod}",
        "--filter", f"label=io.podplay.namespace={NAMESPACE}",
        "--format", "{{.ID}} {{.Names}} {{.State}} {{.Label \"io.podplay.container\"}}",
    )  # fmt: skip
    rows = []
    for line in out.splitlines():
        cid, name, state, cname = line.split()
        rows.append({"id": cid, "name": name, "state": state, "container": cname})
    return rows


def pod(client: AgentClient, name: str, namespace: str = NAMESPACE) -> dict[str, Any] | None:
    for p in client.pods()["pods"]:
        if p["name"] == name and p["namespace"] == namespace:
            return p
    return None


def wait_pod(
    client: AgentClient,
    name: str,
    ok: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 30,
    what: str = "",
) -> dict[str, Any]:
    """Poll the agent until pod `name` satisfies `ok`; its status."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pod(client, name)
        if last is not None and ok(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"pod {name}: timed out after {timeout}s waiting for {what}: {last}")


def running_ready(p: dict[str, Any]) -> bool:
    return p["phase"] == "Running" and p["ready"]


def cstatus(p: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in p["containers"] if c["name"] == name)


def client_for(access: ClusterAccess, node: str) -> AgentClient:
    return access.client(access.node(node))
