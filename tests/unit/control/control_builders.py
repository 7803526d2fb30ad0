"""Programs, facts and plans for the control-plane tests (no files, no Docker)."""

from __future__ import annotations

from collections.abc import Callable

import podplay as pp
from podplay.dsl import Stack
from podplay.plan import ClusterFacts, NodeFacts, Plan, plan

LB_POOL = "172.30.9.239-172.30.9.254"


def facts(nodes: int = 3) -> ClusterFacts:
    """A local cluster's nodes as the substrate's inventory describes them."""
    return ClusterFacts(
        nodes=[
            NodeFacts(
                name=f"node{i}",
                address=f"172.30.9.{10 + i}",
                pod_cidr=f"10.244.{i}.0/24",
                connection={"ansible_host": f"172.30.9.{10 + i}", "ansible_user": "root"},
            )
            for i in range(1, nodes + 1)
        ],
        lb_pool=LB_POOL,
    )


def stack_of(build: Callable[[], object]) -> Stack:
    with Stack(program="app.py") as stack:
        build()
    return stack


def shop(
    replicas: int = 3, image: str = "busybox:1", backend_replicas: int = 2, recreate: bool = False
) -> Stack:
    """Two deployments and one service of each type (`recreate`: web by pp.Recreate())."""

    def build() -> None:
        pp.Cluster("shop", nodes=3)
        backend = pp.Deployment(
            "backend",
            replicas=backend_replicas,
            containers=[pp.Container("backend", image="busybox:1", ports=[8080])],
        )
        pp.Service("backend", selector=backend, ports=[pp.ServicePort(80, 8080)])
        web = pp.Deployment(
            "web",
            replicas=replicas,
            containers=[pp.Container("web", image=image, ports=[8080])],
            strategy=pp.Recreate() if recreate else pp.RollingUpdate(),
        )
        pp.Service(
            "web", selector=web, type="NodePort", ports=[pp.ServicePort(80, 8080, node_port=30080)]
        )
        pp.Service("web-lb", selector=web, type="LoadBalancer", ports=[pp.ServicePort(80, 8080)])
        pp.Service("payments", type="ExternalName", external_name="payments.example.test")
        pp.export("port", 30080)

    return stack_of(build)


def shop_plan(previous: Plan | None = None, **kwargs: object) -> Plan:
    return plan(shop(**kwargs), previous, facts(), {})  # type: ignore[arg-type]


def status(
    pod: object, *, ready: bool = True, phase: str = "Running", ip: str | None = None
) -> dict[str, object]:
    """An agent PodStatus for a planned pod, tagged with its node (as `all_pods` does)."""
    return {
        "name": pod.name,  # type: ignore[attr-defined]
        "namespace": pod.namespace,  # type: ignore[attr-defined]
        "node": pod.node,  # type: ignore[attr-defined]
        "ip": ip or pod.ip,  # type: ignore[attr-defined]
        "phase": phase,
        "ready": ready,
        "template_hash": pod.template_hash,  # type: ignore[attr-defined]
        "containers": [],
    }
