"""How far a cluster is from a plan: pods ready where planned, endpoints routed everywhere.

Pure functions over what the agents report (`/v1/pods`, each pod tagged with the node that
reported it) and what each node's proxy reports (`/run/podplay/proxy.json`:
`ready_endpoints` as `namespace/pod@ip`, written after every iptables sync). Whether one pod
is ready (and why not) and whether endpoints are routed are the node contract's decisions
(`podplay.node.contract.pod_status`, `proxy_status`), the same that `rollout step` makes on
each node; this module counts them per deployment of a plan, which `up` polls
(`control/waiting.py`) until every deployment is available.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podplay.node.contract.pod_status import not_ready
from podplay.node.contract.proxy_status import endpoint_key, not_routed
from podplay.plan import Plan, PodPlan
from podplay.plan.rollout import PodKey, routed_pods


@dataclass(frozen=True)
class DeploymentProgress:
    """One deployment's pods: how many are ready and routed, and what holds the others."""

    namespace: str
    name: str
    desired: int
    ready: int
    routed: int
    waiting: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return self.ready == self.desired and self.routed == self.desired


def unrouted_pods(
    plan: Plan, pods: Iterable[PodKey], proxies: Mapping[str, Mapping[str, Any] | None]
) -> set[PodKey]:
    """Those of `pods` (behind a service) that some Ready node of `plan` does not route."""
    wanted = set(pods)
    keys = {
        endpoint_key(p.namespace, p.name, p.ip): (p.namespace, p.name)
        for p in plan.pods
        if (p.namespace, p.name) in wanted
    }
    nodes = [n.name for n in plan.ready_nodes()]  # a NotReady node routes nothing now
    missing = not_routed(sorted(keys), nodes, proxies)
    return {keys[e] for left in missing.values() for e in left}


def progress(
    plan: Plan,
    reported: Iterable[Mapping[str, Any]],
    proxies: Mapping[str, Mapping[str, Any] | None] | None,
    only: set[PodKey] | None = None,
) -> list[DeploymentProgress]:
    """Each deployment's progress towards the plan (`only`: count just these pods).

    `proxies` None means routing is not looked at (every ready pod counts as routed).
    """
    counted = [p for p in plan.pods if only is None or (p.namespace, p.name) in only]
    held = not_ready(reported, counted)
    unrouted = set() if proxies is None else unrouted_pods(plan, routed_pods(plan), proxies)
    owned: dict[tuple[str, str], list[PodPlan]] = {}
    for p in counted:  # a rollout stage holds old and new pods: count what it holds
        owned.setdefault((p.namespace, p.deployment), []).append(p)
    out = []
    for d in plan.deployments:
        ready = routed = desired = 0
        waiting: list[str] = []
        for pod in owned.get((d.namespace, d.name), []):
            desired += 1
            reason = held.get((pod.namespace, pod.name))
            if reason is not None:
                waiting.append(f"{pod.name} on {pod.node}: {reason}")
            elif (pod.namespace, pod.name) in unrouted:
                ready += 1
                waiting.append(f"{pod.name}: ready, not yet routed on every node")
            else:
                ready += 1
                routed += 1
        if desired or only is None:
            out.append(
                DeploymentProgress(d.namespace, d.name, desired, ready, routed, tuple(waiting))
            )
    return out
