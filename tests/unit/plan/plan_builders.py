"""Small programs built in code for planner tests (no files, no Docker)."""

from __future__ import annotations

from collections.abc import Callable

import podplay as pp
from podplay.dsl import ImageRef, Stack
from podplay.plan import ClusterFacts, Plan, plan

IMAGES = {"web": ImageRef(ref="podplay/web:0123456789ab", id="sha256:" + "a" * 64)}


def stack_of(build: Callable[[], object]) -> Stack:
    """Run `build` inside a fresh stack and return the stack."""
    with Stack(program="app.py") as stack:
        build()
    return stack


def web_program(
    replicas: int = 3,
    *,
    nodes: int = 3,
    image: str = "busybox",
    env: dict[str, str] | None = None,
    strategy: pp.RollingUpdate | pp.Recreate | None = None,
    cpu: str | None = None,
    selector: dict[str, str] | None = None,
    lb_pool: str | None = None,
) -> Stack:
    """A local cluster with one deployment `web` behind a ClusterIP and a NodePort service."""

    def build() -> None:
        pp.Cluster("dev", nodes=nodes, lb_pool=lb_pool)
        web = pp.Deployment(
            "web",
            replicas=replicas,
            containers=[
                pp.Container(
                    "web",
                    image=image,
                    ports=[8080],
                    env=env or {},
                    resources=pp.Resources(cpu=cpu) if cpu else None,
                )
            ],
            node_selector=selector or {},
            strategy=strategy or pp.RollingUpdate(),
        )
        pp.Service("web", selector=web, ports=[pp.ServicePort(80, 8080)])
        pp.Service("web-public", selector=web, type="NodePort", ports=[80])

    return stack_of(build)


def replan(stack: Stack, previous: Plan | None = None, facts: ClusterFacts | None = None) -> Plan:
    """Plan with the test images."""
    return plan(stack, previous, facts, IMAGES)


def pods_of(result: Plan, deployment: str = "web") -> dict[str, tuple[str, str]]:
    """Pod name → (node, ip) for one deployment."""
    return {p.name: (p.node, p.ip) for p in result.pods if p.deployment == deployment}
