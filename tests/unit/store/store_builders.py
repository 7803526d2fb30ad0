"""Builders for store-side tests: pod manifests of a deployment, node specs, bindings, and a
fake etcd with three members (tests/unit/store/fake_etcd.py)."""

from __future__ import annotations

from typing import Any

from fake_etcd import FakeMember, FakeStore

from podplay.node.contract.store import Binding, NodeSpec
from podplay.node.store import Store, keys

CLUSTER = "shop"


def pod(
    name: str,
    ip: str,
    deployment: str = "web",
    template: str = "t1",
    namespace: str = "default",
    cpu: int | None = 100,
) -> dict[str, Any]:
    """A pod manifest as the planner writes it (owner, template hash, one container)."""
    return {
        "apiVersion": "podplay/v1",
        "kind": "Pod",
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "labels": {"app": deployment},
        "owner": {"kind": "Deployment", "name": deployment},
        "template_hash": template,
        "ip": ip,
        "hostname": name,
        "restart_policy": "Always",
        "termination_grace_period": 30,
        "dns": None,
        "containers": [
            {
                "name": "web",
                "image": "podplay/web:1",
                "image_id": None,
                "command": None,
                "args": None,
                "env": {},
                "ports": [],
                "resources": {"cpu_millis": cpu, "memory_bytes": None},
                "readiness": None,
                "liveness": None,
                "startup": None,
            }
        ],
    }


def spec(i: int, **changes: Any) -> NodeSpec:
    node = NodeSpec(
        f"node{i}", f"172.30.5.{10 + i}", f"10.244.{i}.0/24", {}, None, None, 110, None, i == 1
    )
    return node._replace(**changes)


def binding(node: int, name: str, last: int, **kw: Any) -> Binding:
    """A plan binding of pod `name` on node<node> at 10.244.<node>.<last>."""
    selector = kw.pop("selector", {})
    return Binding.for_pod(f"node{node}", pod(name, f"10.244.{node}.{last}", **kw), selector)


def desired(
    pods: dict[str, list[dict[str, Any]]],
    nodes: int = 3,
    selectors: dict[str, Any] | None = None,
    grace: float = 3.0,
) -> dict[str, Any]:
    """What the store_table module hands the bundle."""
    return {
        "cluster": CLUSTER,
        "node_grace": grace,
        "nodes": [spec(i).to_json() for i in range(1, nodes + 1)],
        "pods": pods,
        "node_selectors": selectors or {},
    }


def put_binding(store: Store, b: Binding) -> int:
    return store.put(keys.binding_key(CLUSTER, b.namespace, b.name), b.to_text())


class Etcd:
    """Three fake members over one store, and a client of them."""

    def __init__(self) -> None:
        self.data = FakeStore()
        self.members = [FakeMember(self.data, f"m{i}").start() for i in (1, 2, 3)]

    def client(self, **kwargs: float) -> Store:
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("connect_timeout", 0.5)
        return Store([m.endpoint for m in self.members], **kwargs)

    def stop(self) -> None:
        for member in self.members:
            member.stop()
