"""How far a cluster is from a plan: pods ready where planned, endpoints routed everywhere.

Pure functions over what the agents report (`/v1/pods`, each pod tagged with the node that
reported it) and what each node's proxy reports (`/run/podplay/proxy.json`:
`ready_endpoints` as `namespace/pod@ip`, written after every iptables sync). `up` polls them
until every deployment is available; a rollout waits until a new pod is ready AND routed on
every node before an old one goes, and until an old pod is unrouted on every node before its
containers are stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podplay.node.contract.proxy_status import endpoint_key, routed_or_none
from podplay.plan import Plan, PodPlan
from podplay.plan.rollout import PodKey, routed_pods

MESSAGE_LIMIT = 100


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


def index_pods(reported: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], Any]:
    """Agent pod statuses by (node, namespace, name)."""
    return {(p.get("node", ""), p.get("namespace", ""), p.get("name", "")): p for p in reported}


def why_not_ready(pod: PodPlan, status: Mapping[str, Any] | None) -> str | None:
    """None when the pod runs ready on its node with its IP, else a short reason."""
    if status is None:
        return f"{pod.name} on {pod.node}: not reported by the node's agent yet"
    if status.get("ip") not in (None, pod.ip):
        return f"{pod.name} on {pod.node}: has IP {status.get('ip')}, planned {pod.ip}"
    if status.get("phase") == "Running" and status.get("ready") is True:
        return None
    for c in status.get("containers") or []:
        if c.get("state") == "waiting" and c.get("reason") not in (None, "ContainerCreating"):
            detail = f": {c['reason']}"
            last = c.get("last_termination") or {}
            if last.get("exit_code") is not None:
                detail += f" (last exit code {last['exit_code']})"
            if c.get("message"):  # e.g. the engine's `exec: "x": executable file not found`
                detail += f": {_tail(str(c['message']))}"
            return f"{pod.name} on {pod.node}{detail}"
    reason = status.get("reason") or status.get("phase") or "Unknown"
    message = status.get("message")
    if status.get("phase") == "Running":
        reason = "Running, not ready"
    return f"{pod.name} on {pod.node}: {reason}{f' ({message})' if message else ''}"


def _tail(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """The end of a long engine message (where its cause is), on one line."""
    text = " ".join(message.split())
    return text if len(text) <= limit else "..." + text[-(limit - 3) :]


def is_routed(
    pod: PodPlan, nodes: Iterable[str], proxies: Mapping[str, Mapping[str, Any] | None]
) -> bool:
    """Every node's proxy routes to the pod."""
    key = endpoint_key(pod.namespace, pod.name, pod.ip)
    for node in nodes:
        now = routed_or_none(proxies.get(node))
        if now is None or key not in now:
            return False
    return True


def still_routed(
    endpoints: Iterable[str], nodes: Iterable[str], proxies: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, list[str]]:
    """Endpoints (`ns/pod@ip`) some node still routes to (or cannot say it does not)."""
    wanted = set(endpoints)
    out: dict[str, list[str]] = {}
    for node in nodes:
        now = routed_or_none(proxies.get(node))
        left = sorted(wanted if now is None else wanted & now)
        if left:
            out[node] = left
    return out


def progress(
    plan: Plan,
    reported: Iterable[Mapping[str, Any]],
    proxies: Mapping[str, Mapping[str, Any] | None] | None,
    only: set[PodKey] | None = None,
) -> list[DeploymentProgress]:
    """Each deployment's progress towards the plan (`only`: count just these pods).

    `proxies` None means routing is not looked at (every ready pod counts as routed).
    """
    by_key = index_pods(reported)
    behind_service = routed_pods(plan)
    node_names = [n.name for n in plan.ready_nodes()]  # a NotReady node routes nothing now
    owned: dict[tuple[str, str], list[PodPlan]] = {}
    for p in plan.pods:  # a rollout stage holds old and new pods: count what it holds
        owned.setdefault((p.namespace, p.deployment), []).append(p)
    out = []
    for d in plan.deployments:
        ready = routed = desired = 0
        waiting: list[str] = []
        for pod in owned.get((d.namespace, d.name), []):
            if only is not None and (pod.namespace, pod.name) not in only:
                continue
            desired += 1
            reason = why_not_ready(pod, by_key.get((pod.node, pod.namespace, pod.name)))
            if reason is not None:
                waiting.append(reason)
                continue
            ready += 1
            key = (pod.namespace, pod.name)
            if proxies is None or key not in behind_service or is_routed(pod, node_names, proxies):
                routed += 1
            else:
                waiting.append(f"{pod.name}: ready, not yet routed on every node")
        if desired or only is None:
            out.append(
                DeploymentProgress(d.namespace, d.name, desired, ready, routed, tuple(waiting))
            )
    return out
