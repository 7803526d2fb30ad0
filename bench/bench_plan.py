"""Benchmark: plan + render at two scales (targets: < 0.5 s and < 3 s on this machine).

    .venv/bin/python bench/bench_plan.py

Times are the best of a few runs without tracing; peak memory is traced in a separate run
(tracemalloc slows code down, so it never shares a run with the clock).
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import podplay as pp
from podplay.dsl import ImageRef, Stack
from podplay.plan import ClusterFacts, NodeFacts, plan
from podplay.render import RenderOptions, render


@dataclass(frozen=True)
class Scale:
    name: str
    nodes: int
    deployments: int
    replicas: int
    services: int
    target: float


SCALES = [
    Scale("small", nodes=10, deployments=10, replicas=10, services=50, target=0.5),
    Scale("large", nodes=100, deployments=200, replicas=25, services=1000, target=3.0),
]
TYPES = ["ClusterIP", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]


def build(scale: Scale) -> Stack:
    """A program with `deployments` x `replicas` pods and `services` services."""
    with Stack(program="bench.py") as stack:
        pp.Cluster("bench", nodes=scale.nodes)
        image = pp.Image("app", context="images/app")
        for d in range(scale.deployments):
            pp.Deployment(
                f"app{d}",
                replicas=scale.replicas,
                containers=[
                    pp.Container(
                        "app",
                        image=image,
                        ports=[8080],
                        env={"INDEX": str(d)},
                        readiness=pp.HttpProbe("/healthz", 8080),
                        resources=pp.Resources(cpu="10m", memory="16Mi"),
                    )
                ],
            )
        for s in range(scale.services):
            kind = TYPES[s % len(TYPES)]
            if kind == "ExternalName":
                pp.Service(f"svc{s}", type=kind, external_name=f"ext{s}.example.test")
            else:
                target = f"app{s % scale.deployments}"
                pp.Service(f"svc{s}", type=kind, selector={"app": target}, ports=[80])
    return stack


def facts(scale: Scale) -> ClusterFacts:
    return ClusterFacts(
        nodes=[
            NodeFacts(
                name=f"node{i}",
                address=f"172.30.{i // 200}.{10 + i % 200}",
                pod_cidr=f"10.244.{i}.0/24",
                connection={"ansible_host": f"172.30.{i // 200}.{10 + i % 200}"},
            )
            for i in range(1, scale.nodes + 1)
        ],
        lb_pool="172.31.0.0/20",
    )


IMAGES = {"app": ImageRef(ref="podplay/app:0123456789ab", id="sha256:" + "0" * 64)}
OPTIONS = RenderOptions(collections_path="/opt/podplay/ansible_collection", program="bench.py")


def best(fn: Callable[[], object], runs: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def measure(scale: Scale) -> dict[str, object]:
    build_s, stack = best(lambda: build(scale), runs=1)
    world = facts(scale)
    plan_s, first = best(lambda: plan(stack, None, world, IMAGES))
    render_s, files = best(lambda: render(first, OPTIONS))
    replan_s, again = best(lambda: plan(stack, first, world, IMAGES))
    assert again == first, "re-planning an unchanged program must give the same plan"
    tracemalloc.start()
    render(plan(stack, None, world, IMAGES), OPTIONS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    total = plan_s + render_s
    return {
        "scale": scale.name,
        "nodes": scale.nodes,
        "pods": len(first.pods),
        "services": len(first.services),
        "program": f"{build_s:.3f}s",
        "plan": f"{plan_s:.3f}s",
        "render": f"{render_s:.3f}s",
        "plan+render": f"{total:.3f}s",
        "target": f"< {scale.target}s",
        "ok": "yes" if total < scale.target else "NO",
        "re-plan": f"{replan_s:.3f}s",
        "files": len(files),
        "MiB out": f"{sum(len(t) for t in files.values()) / 2**20:.1f}",
        "peak MiB": f"{peak / 2**20:.0f}",
    }


def table(rows: list[dict[str, object]]) -> str:
    headers = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(str(r[h]).rjust(w) for h, w in zip(headers, widths, strict=True)) for r in rows
    ]
    return "\n".join(out)


def main() -> int:
    rows = [measure(scale) for scale in SCALES]
    print(table(rows))
    return 0 if all(r["ok"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
