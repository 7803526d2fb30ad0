"""What `get deployments|services` and `describe` show: the applied plan joined with the
pods the agents report. Pure functions over data, plus where to find the applied plan.

The plan says what should be (replicas, endpoints, addresses); the agents say what is (which
pod runs, is ready, restarted). A cluster's applied plan is written by `up` beside the
cluster's secrets (`<home>/clusters/<name>/applied-plan.json`), or is the `plan.json` beside a
compiled inventory (`-i .podplay/<stack>/build/inventory.yml`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from podplay import paths
from podplay.errors import EnvironmentProblem, UserInputError
from podplay.node.contract.pod_status import read_statuses, why_not_ready
from podplay.plan import DeploymentPlan, Plan, ServicePlan

APPLIED_PLAN = "applied-plan.json"


def applied_plan_path(cluster: str, inventory: Path | None = None) -> Path:
    """Where the plan last applied to a cluster is kept."""
    if inventory is not None:
        return inventory.parent / "plan.json"
    return paths.cluster_dir(cluster) / APPLIED_PLAN


def applied_plan_if_any(cluster: str, inventory: Path | None = None) -> Plan | None:
    """The cluster's applied plan, or None when there is none (or it cannot be read)."""
    try:
        return load_applied_plan(cluster, inventory)
    except (UserInputError, EnvironmentProblem):
        return None


def load_applied_plan(cluster: str, inventory: Path | None = None) -> Plan:
    """The cluster's applied plan; a clear error when nothing was applied to it."""
    path = applied_plan_path(cluster, inventory)
    try:
        return Plan.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(
            f"nothing has been applied to cluster {cluster} ({path} is missing): "
            "run `podplay up PROGRAM` first"
        ) from None
    except (OSError, ValidationError) as err:
        raise EnvironmentProblem(f"the applied plan {path} is not usable: {err}") from None


def unknown_pods(plan: Plan, unreachable: Mapping[str, str]) -> list[dict[str, Any]]:
    """The planned pods of nodes that did not answer, as PodStatus with phase `Unknown` (as
    kubectl lists the pods of a node it lost touch with): what should run there, not ready,
    each container's state unknown."""
    out = []
    for p in plan.pods:
        if p.node not in unreachable:
            continue
        containers = p.manifest.get("containers") or []
        out.append(
            {
                "name": p.name,
                "namespace": p.namespace,
                "uid": p.manifest.get("uid"),
                "labels": dict(p.manifest.get("labels") or {}),
                "ip": p.ip,
                "phase": "Unknown",
                "ready": False,
                "reason": "NodeUnreachable",
                "message": unreachable[p.node],
                "started_at": None,
                "template_hash": p.template_hash,
                "node": p.node,
                "containers": [
                    {
                        "name": c.get("name"),
                        "image": c.get("image"),
                        "state": "unknown",
                        "ready": False,
                        "restart_count": None,
                    }
                    for c in containers
                ],
            }
        )
    return out


class _Live:
    """Agent pod statuses by (namespace, name): the report of the node the plan puts the pod
    on first (a node that returns may still report a pod the controller moved away)."""

    def __init__(self, pods: Iterable[Mapping[str, Any]]) -> None:
        self.by_node = {(p.get("namespace", ""), p.get("name", ""), p.get("node")): p for p in pods}
        self.any = {(ns, name): p for (ns, name, _node), p in self.by_node.items()}

    def get(self, namespace: str, name: str, node: str) -> Mapping[str, Any] | None:
        return self.by_node.get((namespace, name, node)) or self.any.get((namespace, name))


def _ready(pod: Mapping[str, Any] | None, node: str, ip: str) -> bool:
    """Reported ready by the node the plan puts it on, with its planned IP: the decision
    `up`'s wait and `rollout step` make (`podplay.node.contract.pod_status`)."""
    if pod is None or pod.get("node") != node:
        return False
    read = read_statuses([pod])
    return bool(read) and why_not_ready(read[0], ip) is None


def deployment_info(
    plan: Plan, d: DeploymentPlan, pods: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """One deployment: desired, ready, up to date (current template), its pods live."""
    live = _Live(pods)
    planned = [p for p in plan.pods if p.namespace == d.namespace and p.deployment == d.name]
    rows = []
    ready = up_to_date = 0
    for p in planned:
        status = live.get(p.namespace, p.name, p.node)
        ok = _ready(status, p.node, p.ip)
        ready += ok
        current = status is not None and status.get("template_hash") in (d.template_hash, "")
        up_to_date += bool(current and p.template_hash == d.template_hash)
        rows.append(
            {
                "name": p.name,
                "node": p.node,
                "ip": p.ip,
                "ready": ok,
                "phase": status.get("phase") if status else None,
                "restarts": sum(
                    int(c.get("restart_count") or 0)
                    for c in ((status or {}).get("containers") or [])
                ),
            }
        )
    return {
        "name": d.name,
        "namespace": d.namespace,
        "replicas": d.replicas,
        "ready": ready,
        "up_to_date": up_to_date,
        "available": ready,
        "template_hash": d.template_hash,
        "labels": dict(d.template.get("labels") or {}),
        "images": [c.get("image") for c in d.template.get("containers") or []],
        "strategy": d.strategy.model_dump(),
        "pods": rows,
    }


def deployments(plan: Plan, pods: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every deployment of the plan, joined with live pods."""
    pods = list(pods)
    return [deployment_info(plan, d, pods) for d in plan.deployments]


def service_info(s: ServicePlan, pods: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One service in the JSON shape of `get services -o json` (issue 6)."""
    live = _Live(pods)
    endpoints = []
    for e in s.endpoints:
        ok = _ready(live.get(e.namespace, e.pod, e.node), e.node, e.ip)
        for p in s.ports:
            endpoints.append(
                {"address": f"{e.ip}:{p.target_port}", "pod": e.pod, "node": e.node, "ready": ok}
            )
    return {
        "name": s.name,
        "namespace": s.namespace,
        "type": s.type,
        "cluster_ip": s.cluster_ip,
        "ports": [
            {
                "name": p.name,
                "port": p.port,
                "target_port": p.target_port,
                "node_port": p.node_port,
                "protocol": p.protocol,
            }
            for p in s.ports
        ],
        "load_balancer_ip": s.load_balancer_ip,
        "external_name": s.external_name,
        "selector": dict(s.selector or {}),
        "session_affinity": s.session_affinity,
        "endpoints": endpoints,
    }


def services(plan: Plan, pods: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every service of the plan with its endpoints' live readiness."""
    pods = list(pods)
    return [service_info(s, pods) for s in plan.services]


def ports_text(service: Mapping[str, Any]) -> str:
    """kubectl's PORT(S) column: `80/TCP`, `80:30080/TCP`."""
    parts = []
    for p in service["ports"]:
        node = f":{p['node_port']}" if p.get("node_port") else ""
        parts.append(f"{p['port']}{node}/{p.get('protocol') or 'TCP'}")
    return ",".join(parts) or "<none>"


def find(items: list[dict[str, Any]], kind: str, name: str, namespace: str | None) -> dict:
    """The one item called `name` (in `namespace` when given)."""
    found = [i for i in items if i["name"] == name and namespace in (None, i["namespace"])]
    if len(found) == 1:
        return found[0]
    if found:
        spaces = ", ".join(sorted(i["namespace"] for i in found))
        raise UserInputError(f"{kind} {name} exists in several namespaces ({spaces}): use -n")
    known = ", ".join(sorted(i["name"] for i in items)) or "none"
    raise UserInputError(f"no {kind} {name} in the applied plan (known: {known})")


def events_for(
    events: Iterable[Mapping[str, Any]], pods: set[tuple[str, str]], limit: int = 20
) -> list[Mapping[str, Any]]:
    """The most recent events of the given pods, oldest first."""
    chosen = [e for e in events if (e.get("namespace"), e.get("pod")) in pods]
    chosen.sort(key=lambda e: str(e.get("time") or ""))
    return chosen[-limit:]
