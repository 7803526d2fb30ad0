"""Helpers of the node fault tests (test_chaos_node.py): one web pod per node behind one
ClusterIP service, written by the agent and services plays as `podplay up` would, and a
client loop that runs on a node and tells apart the ways a request can fail."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from typing import Any

from helpers import apply_pods_and_services, node_exec

from podplay.substrate import Cluster

WEB_PORT = 8080
SERVICE_IP = "10.96.101.10"
UNUSED_SERVICE_IP = "10.96.123.45"  # in the service CIDR, held by no service


def pod_ip(cluster: Cluster, index: int) -> str:
    return cluster.nodes[index - 1].pod_cidr.replace(".0/24", ".60")


def web_pod(cluster: Cluster, index: int, image: Any) -> dict[str, Any]:
    """`chaos-<i>`: busybox httpd answering its name, ready while it serves (probe every 1 s)."""
    name = f"chaos-{index}"
    return {
        "apiVersion": "podplay/v1", "kind": "Pod", "name": name, "namespace": "default",
        "uid": hashlib.sha256(f"chaos/{name}".encode()).hexdigest()[:16],
        "labels": {"app": "chaos"}, "owner": None, "template_hash": "chaos1",
        "ip": pod_ip(cluster, index), "hostname": name, "restart_policy": "Always",
        "termination_grace_period": 1,
        "dns": {"nameservers": ["10.96.0.10"],
                "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
                "options": ["ndots:5"]},
        "containers": [{
            "name": "web", "image": image.ref, "image_id": image.id,
            "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && "
                        f"exec httpd -f -p {WEB_PORT} -h /www"],
            "args": None, "env": {}, "resources": None,
            "ports": [{"container_port": WEB_PORT, "protocol": "TCP", "name": "http"}],
            "readiness": {"type": "http", "path": "/", "port": WEB_PORT, "period": 1,
                          "timeout": 1, "failure_threshold": 1, "success_threshold": 1,
                          "initial_delay": 0},
            "liveness": None, "startup": None,
        }],
    }  # fmt: skip


def service(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": "chaos", "namespace": "default", "type": "ClusterIP", "cluster_ip": SERVICE_IP,
        "selector": {"app": "chaos"},
        "ports": [{"name": "http", "port": 80, "target_port": WEB_PORT, "node_port": None,
                   "protocol": "TCP"}],
        "session_affinity": None, "affinity_timeout": 10800, "load_balancer_ip": None,
        "external_name": None,
        "endpoints": [{"pod": f"chaos-{n.index}", "namespace": "default", "node": n.name,
                       "ip": pod_ip(cluster, n.index)} for n in cluster.nodes],
    }  # fmt: skip


def apply(cluster: Cluster, pods: dict[str, list], svcs: list[dict], images: list) -> None:
    """agent.yml (pods) then services.yml (routing), as site.yml runs them."""
    apply_pods_and_services(cluster, pods, svcs, images, "podplay_chaos_pods")


def ready_endpoints(cluster: Cluster, node: str) -> set[str]:
    """Pods the node's proxy routes to right now (`/run/podplay/proxy.json`)."""
    res = node_exec(cluster, node, "cat /run/podplay/proxy.json")
    if not res.ok or not res.stdout.strip():
        return set()
    doc = json.loads(res.stdout)
    return {e.split("@")[0].split("/")[1] for e in doc.get("ready_endpoints", [])}


def wait_routed(cluster: Cluster, pods: set[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        missing = {n.name: pods - ready_endpoints(cluster, n.name) for n in cluster.nodes}
        if not any(missing.values()):
            return
        assert time.monotonic() < deadline, f"not routed everywhere: {missing}"
        time.sleep(0.3)


def wait_booted(cluster: Cluster, node: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        res = node_exec(cluster, node, "systemctl is-system-running")
        if res.stdout.strip() in ("running", "degraded"):
            return
        assert time.monotonic() < deadline, f"{node} did not boot: {res}"
        time.sleep(1)


# A client loop run by python3 on a node: one connection per request, 2 s to connect and
# answer. Refused connections are retried at once (a REJECT is the routing saying "not
# here"); a timeout or "no route to host" is a request sent where nothing runs. Stops when
# /tmp/chaos-client.stop exists; prints one JSON document.
CLIENT = r"""
import errno, json, os, socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
stats = {"ok": 0, "refused": 0, "reset": 0, "timeout": 0, "unreachable": 0, "other": 0}
answers, failures = {}, []
stop = "/tmp/chaos-client.stop"
while not os.path.exists(stop):
    t = time.time()
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((ip, port))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        body = data.split(b"\r\n\r\n", 1)[-1].decode().strip()
        stats["ok"] += 1
        answers[body] = answers.get(body, 0) + 1
    except socket.timeout:
        stats["timeout"] += 1
        failures.append([round(t, 2), "timeout"])
    except ConnectionRefusedError:
        stats["refused"] += 1
    except ConnectionResetError:
        stats["reset"] += 1
        failures.append([round(t, 2), "reset"])
    except OSError as err:
        kind = "unreachable" if err.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else "other"
        stats[kind] += 1
        failures.append([round(t, 2), "%s %s" % (kind, err)])
    finally:
        s.close()
    time.sleep(max(0.0, 0.04 - (time.time() - t)))
print(json.dumps({"stats": stats, "answers": answers, "failures": failures[:20]}))
"""


class ClientLoop:
    """The client loop above, running on `node` against `ip:port` until `finish()`."""

    def __init__(self, cluster: Cluster, node: str, ip: str, port: int) -> None:
        self.cluster = cluster
        self.node = node
        node_exec(cluster, node, "rm -f /tmp/chaos-client.stop", check=True)
        self.proc = subprocess.Popen(
            ["docker", "exec", "-i", cluster.node(node).container,
             "python3", "-c", CLIENT, ip, str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def finish(self) -> dict[str, Any]:
        node_exec(self.cluster, self.node, "touch /tmp/chaos-client.stop", check=True)
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err.decode()
        return json.loads(out.decode())
