"""A small cluster in cluster.json shape, shared by the proxy's unit tests.

Three nodes; services of every type: `web` (ClusterIP, three endpoints, one per node),
`sticky` (ClientIP affinity), `shop` (NodePort whose only endpoint is on node2), `front`
(LoadBalancer), `dead` (NodePort whose endpoints are never ready), `dns-udp` (UDP),
`ext` (ExternalName) and `peers` (headless).
"""

from __future__ import annotations

import copy
from typing import Any

from podplay.node.proxy.state import (
    ClusterState,
    Endpoint,
    LocalNode,
    parse_agent_config,
    parse_cluster,
)

NODES = [
    {"name": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24", "api_port": 10250},
    {"name": "node2", "address": "172.30.5.12", "pod_cidr": "10.244.2.0/24", "api_port": 10250},
    {"name": "node3", "address": "172.30.5.13", "pod_cidr": "10.244.3.0/24", "api_port": 10250},
]


def ep(pod: str, node: str, ip: str) -> dict[str, Any]:
    return {"pod": pod, "namespace": "default", "node": node, "ip": ip}


def svc(name: str, **fields: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "namespace": "default",
        "type": "ClusterIP",
        "cluster_ip": None,
        "selector": {"app": name},
        "ports": [
            {"name": "http", "port": 80, "target_port": 8080, "node_port": None, "protocol": "TCP"}
        ],
        "session_affinity": None,
        "affinity_timeout": 10800,
        "load_balancer_ip": None,
        "external_name": None,
        "endpoints": [],
    }
    base.update(fields)
    return base


def cluster_json() -> dict[str, Any]:
    def port(node_port: int | None = None, proto: str = "TCP", number: int = 80) -> dict:
        return {
            "name": "http" if proto == "TCP" else "dns",
            "port": number,
            "target_port": 8080 if proto == "TCP" else 5353,
            "node_port": node_port,
            "protocol": proto,
        }

    return {
        "apiVersion": "podplay/v1",
        "kind": "ClusterState",
        "cluster": "shop",
        "pod_cidr": "10.244.0.0/16",
        "service_cidr": "10.96.0.0/16",
        "dns_ip": "10.96.0.10",
        "cluster_domain": "cluster.local",
        "node_port_range": [30000, 32767],
        "nodes": copy.deepcopy(NODES),
        "services": [
            svc(
                "web",
                cluster_ip="10.96.0.20",
                endpoints=[
                    ep("web-a", "node1", "10.244.1.5"),
                    ep("web-b", "node2", "10.244.2.5"),
                    ep("web-c", "node3", "10.244.3.5"),
                ],
            ),
            svc(
                "sticky",
                cluster_ip="10.96.0.21",
                session_affinity="ClientIP",
                affinity_timeout=600,
                endpoints=[
                    ep("sticky-a", "node1", "10.244.1.6"),
                    ep("sticky-b", "node2", "10.244.2.6"),
                ],
            ),
            svc(
                "shop",
                type="NodePort",
                cluster_ip="10.96.0.22",
                ports=[port(30080)],
                endpoints=[ep("shop-a", "node2", "10.244.2.7")],
            ),
            svc(
                "front",
                type="LoadBalancer",
                cluster_ip="10.96.0.23",
                load_balancer_ip="172.30.5.240",
                ports=[port(30081)],
                endpoints=[
                    ep("front-a", "node1", "10.244.1.8"),
                    ep("front-b", "node3", "10.244.3.8"),
                ],
            ),
            svc(
                "dead",
                type="LoadBalancer",
                cluster_ip="10.96.0.24",
                load_balancer_ip="172.30.5.241",
                ports=[port(30082)],
                endpoints=[ep("dead-a", "node2", "10.244.2.9")],
            ),
            svc(
                "dns-udp",
                cluster_ip="10.96.0.25",
                ports=[port(None, "UDP", 53)],
                endpoints=[ep("dnsd-a", "node3", "10.244.3.10")],
            ),
            svc("ext", type="ExternalName", ports=[], external_name="db.example.org"),
            svc(
                "peers",
                cluster_ip=None,
                endpoints=[
                    ep("peer-a", "node1", "10.244.1.11"),
                    ep("peer-b", "node2", "10.244.2.11"),
                ],
            ),
        ],
    }


def state(raw: dict[str, Any] | None = None) -> ClusterState:
    return parse_cluster(raw if raw is not None else cluster_json())


def local(name: str = "node1") -> LocalNode:
    node = next(n for n in NODES if n["name"] == name)
    return parse_agent_config(
        {"node": name, "address": node["address"], "pod_cidr": node["pod_cidr"], "cluster": "shop"}
    )


def all_ready(st: ClusterState, except_pods: tuple[str, ...] = ("dead-a",)) -> set[Endpoint]:
    """Every planned endpoint is ready, except the named pods."""
    return {e for s in st.services for e in s.endpoints if e.pod not in except_pods}


# Rules another tool (Docker, the network setup) already has: they must survive untouched.
FOREIGN_SAVE = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
:PODPLAY-NET-FORWARD - [0:0]
-A FORWARD -j PODPLAY-NET-FORWARD
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A DOCKER-USER -j PODPLAY-NET-FORWARD
-A DOCKER-USER -j RETURN
-A PODPLAY-NET-FORWARD -s 10.244.0.0/16 -j ACCEPT
-A PODPLAY-NET-FORWARD -d 10.244.0.0/16 -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
:PODPLAY-NET-POSTROUTING - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -j PODPLAY-NET-POSTROUTING
-A DOCKER -i docker0 -j RETURN
-A PODPLAY-NET-POSTROUTING -s 10.244.1.0/24 -d 10.244.0.0/16 -j RETURN
-A PODPLAY-NET-POSTROUTING -s 10.244.1.0/24 -d 10.96.0.0/16 -j RETURN
-A PODPLAY-NET-POSTROUTING -s 10.244.1.0/24 -j MASQUERADE
COMMIT
"""
