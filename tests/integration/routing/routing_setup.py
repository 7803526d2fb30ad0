"""Pods, services and probes for the routing tests, in the node README's formats.

One busybox httpd pod `web-<i>` per node answers `GET /` with its own name and is ready while
its file /www/ready exists (readiness: HTTP GET /ready every second), so a test can turn a
pod unready by deleting one file. Services of every type point at those pods.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from helpers import apply_pods_and_services, node_exec, pod_exec, run_playbook

from podplay.substrate import Cluster

WEB_PORT = 8080
CLUSTER_IPS = {
    "web": "10.96.100.10",
    "web-np": "10.96.100.11",
    "web-lb": "10.96.100.12",
    "sticky": "10.96.100.13",
    "dead": "10.96.100.14",
    "gone": "10.96.100.15",
}
NODE_PORT = 30080
LB_NODE_PORT = 30081


def pod_ip(cluster: Cluster, index: int) -> str:
    return cluster.nodes[index - 1].pod_cidr.replace(".0/24", ".50")


def web_pod(cluster: Cluster, index: int, image: Any) -> dict[str, Any]:
    name = f"web-{index}"
    return {
        "apiVersion": "podplay/v1",
        "kind": "Pod",
        "name": name,
        "namespace": "default",
        "uid": hashlib.sha256(f"routing/{name}".encode()).hexdigest()[:16],
        "labels": {"app": "web"},
        "owner": None,
        "template_hash": "routing1",
        "ip": pod_ip(cluster, index),
        "hostname": name,
        "restart_policy": "Always",
        "termination_grace_period": 1,
        "dns": {
            "nameservers": ["10.96.0.10"],
            "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
            "options": ["ndots:5"],
        },
        "containers": [
            {
                "name": "web",
                "image": image.ref,
                "image_id": image.id,
                "command": [
                    "sh",
                    "-c",
                    "mkdir -p /www && hostname > /www/index.html && touch /www/ready && "
                    f"exec httpd -f -p {WEB_PORT} -h /www",
                ],
                "args": None,
                "env": {},
                "ports": [{"container_port": WEB_PORT, "protocol": "TCP", "name": "http"}],
                "resources": None,
                "readiness": {
                    "type": "http",
                    "path": "/ready",
                    "port": WEB_PORT,
                    "period": 1,
                    "timeout": 1,
                    "failure_threshold": 1,
                    "success_threshold": 1,
                    "initial_delay": 0,
                },
                "liveness": None,
                "startup": None,
            }
        ],
    }


def endpoint(cluster: Cluster, index: int) -> dict[str, Any]:
    return {
        "pod": f"web-{index}",
        "namespace": "default",
        "node": cluster.nodes[index - 1].name,
        "ip": pod_ip(cluster, index),
    }


def service(name: str, endpoints: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    svc = {
        "name": name,
        "namespace": "default",
        "type": "ClusterIP",
        "cluster_ip": CLUSTER_IPS.get(name),
        "selector": {"app": "web"},
        "ports": [
            {"name": "http", "port": 80, "target_port": WEB_PORT, "node_port": None,
             "protocol": "TCP"}
        ],
        "session_affinity": None,
        "affinity_timeout": 10800,
        "load_balancer_ip": None,
        "external_name": None,
        "endpoints": endpoints,
    }  # fmt: skip
    svc.update(fields)
    return svc


def services(cluster: Cluster, lb_ip: str, without: tuple[str, ...] = ()) -> list[dict]:
    every = [endpoint(cluster, i) for i in range(1, len(cluster.nodes) + 1)]
    port = {"name": "http", "port": 80, "target_port": WEB_PORT, "protocol": "TCP"}
    table = [
        service("web", every),
        service("web-np", [endpoint(cluster, 2)], type="NodePort",
                ports=[{**port, "node_port": NODE_PORT}]),
        service("web-lb", every, type="LoadBalancer", load_balancer_ip=lb_ip,
                ports=[{**port, "node_port": LB_NODE_PORT}]),
        service("sticky", every, session_affinity="ClientIP"),
        service("dead", [{"pod": "ghost", "namespace": "default",
                          "node": cluster.nodes[0].name, "ip": pod_ip(cluster, 1)[:-2] + "99"}]),
        service("gone", [endpoint(cluster, 1)]),
        service("ext", [], type="ExternalName", cluster_ip=None, ports=[], selector=None,
                external_name=f"{cluster.name}-node1"),
    ]  # fmt: skip
    return [s for s in table if s["name"] not in without]


def apply(cluster: Cluster, pods: dict[str, list], svcs: list[dict], images: list) -> None:
    """agent.yml (pods) then services.yml (routing), as site.yml runs them."""
    apply_pods_and_services(cluster, pods, svcs, images, "podplay_routing_pods")


def run_services(cluster: Cluster, svcs: list[dict]) -> Any:
    return run_playbook(cluster, "services.yml", {"podplay_services": svcs})


# -- looking at nodes and pods ------------------------------------------------------------------


def http_get_many(cluster: Cluster, node: str, pod: str, target: str, port: int, n: int) -> list:
    """n HTTP requests from a pod (one connection each); the bodies' last lines (pod names)."""
    cmd = (
        f"for i in $(seq {n}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' "
        f"| nc -w 2 {target} {port} | tail -n 1; echo; done"
    )
    res = pod_exec(cluster, node, pod, cmd)
    return [line.strip() for line in res.stdout.splitlines() if line.strip()]


def proxy_status(cluster: Cluster, node: str) -> dict[str, Any]:
    res = node_exec(cluster, node, "cat /run/podplay/proxy.json")
    return json.loads(res.stdout) if res.ok and res.stdout.strip() else {}


def cluster_json_sha(cluster: Cluster, node: str) -> str:
    res = node_exec(cluster, node, "sha256sum /etc/podplay/cluster.json")
    return res.stdout.split()[0] if res.ok else ""


def wait_routed(cluster: Cluster, ready_pods: set[str], timeout: float = 90) -> None:
    """Until every node's proxy has synced its current cluster.json and sees `ready_pods`."""
    deadline = time.monotonic() + timeout
    pending = [n.name for n in cluster.nodes]
    last: dict[str, Any] = {}
    while pending and time.monotonic() < deadline:
        for node in list(pending):
            status = proxy_status(cluster, node)
            last[node] = status
            ready = {e.split("@")[0].split("/")[1] for e in status.get("ready_endpoints", [])}
            if (
                status.get("synced")
                and status.get("cluster_sha256") == cluster_json_sha(cluster, node)
                and ready_pods <= ready
            ):
                pending.remove(node)
        if pending:
            time.sleep(0.3)
    assert not pending, f"proxies not synced on {pending}: {last}"


def nat_rules(cluster: Cluster, node: str) -> str:
    return node_exec(cluster, node, "iptables-save -t nat", check=True).stdout


def foreign_rules(cluster: Cluster, node: str) -> list[str]:
    """Every rule and chain that is not the proxy's (its PODPLAY-* chains and jumps into them)."""
    text = node_exec(cluster, node, "iptables-save", check=True).stdout
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        words = line.split()
        chain = words[0][1:] if line.startswith(":") else (words[1] if len(words) > 1 else "")
        target = words[words.index("-j") + 1] if "-j" in words[:-1] else ""
        own = lambda c: c.startswith("PODPLAY-") and not c.startswith("PODPLAY-NET-")  # noqa: E731
        if own(chain) or own(target):
            continue
        out.append(line.split(" [")[0] if line.startswith(":") else line)
    return out


def lb_holders(cluster: Cluster, ip: str) -> list[str]:
    return [
        n.name
        for n in cluster.nodes
        if f"inet {ip}/" in node_exec(cluster, n.name, "ip -o -4 addr show").stdout
    ]
