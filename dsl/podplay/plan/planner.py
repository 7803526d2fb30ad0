"""`plan(stack, previous, facts, images) -> Plan`: the pure, deterministic, stable planner.

Same inputs, same plan. Re-planning an unchanged program against its previous plan gives
the previous plan back; scaling adds or removes pods without moving the others; a changed
template gets new pods and a rollout order. Anything infeasible raises `ProgramError`
before anything is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

from podplay.dsl import Cluster, Deployment, ImageRef, ProgramError, Stack, Unresolved
from podplay.dsl.diagnostics import Location
from podplay.plan.addresses import Addresses, allocate, dns_ip
from podplay.plan.control_plane import control_plane_members, mark_members
from podplay.plan.model import (
    API_VERSION,
    ClusterFacts,
    ClusterPlan,
    DeploymentPlan,
    ImagePlan,
    Plan,
    PodPlan,
    RolloutStep,
)
from podplay.plan.nodes import plan_nodes
from podplay.plan.placement import DeploymentKey, Placement, Wanted, schedule, strategy_of
from podplay.plan.rollout import rollout_steps
from podplay.plan.services import plan_services
from podplay.plan.templates import container_specs, pod_template, template_hash


def plan(
    stack: Stack,
    previous: Plan | None = None,
    facts: ClusterFacts | None = None,
    images: Mapping[str, ImageRef] | None = None,
) -> Plan:
    """Decide everything about the stack's cluster.

    `previous` is the last plan applied (for stability), `facts` what the world says about
    the nodes (None for `compile` before the cluster exists: derived from the program),
    `images` the reference (and id, once built) of every pp.Image the program declares.
    """
    cluster = stack.cluster
    if cluster is None:
        raise ProgramError.one(Location(stack.program or "program"), None, "declares no Cluster")
    previous = _comparable(previous, cluster)
    lb_pool = cluster.lb_pool or (facts.lb_pool if facts else None)
    cluster_plan = _cluster_plan(cluster, lb_pool)
    nodes = plan_nodes(cluster, facts, previous)
    nodes = mark_members(nodes, control_plane_members(cluster, nodes, facts))

    services = [stack.services[k] for k in sorted(stack.services)]
    addresses = allocate(cluster, services, previous, lb_pool)
    resolve = _resolver(addresses)

    deployments = [stack.deployments[k] for k in sorted(stack.deployments)]
    image_plans = _image_plans(deployments, images or {})
    wanted = [_wanted(d, image_plans, resolve) for d in deployments]
    scheduled = schedule(
        wanted,
        nodes,
        previous.pods if previous else [],
        {(d.namespace, d.name): d.next_serial for d in previous.deployments} if previous else {},
        cluster_plan.dns_ip,
        cluster_plan.cluster_domain,
    )
    workloads = _workloads(wanted, scheduled.placements, previous)
    return Plan(
        cluster=cluster_plan,
        nodes=scheduled.nodes,
        images=list(image_plans.values()),
        deployments=workloads.deployments,
        pods=workloads.pods,
        services=plan_services(services, addresses, workloads.pods),
        rollout=workloads.rollout,
        outputs={name: _resolve_all(e.value, resolve) for name, e in stack.exports.items()},
        pending=_pending(cluster.name, scheduled.nodes, addresses),
    )


def _comparable(previous: Plan | None, cluster: Cluster) -> Plan | None:
    """The previous plan if it is this cluster's and in this API version (else plan afresh)."""
    if previous is None or previous.cluster.name != cluster.name:
        return None
    return previous if previous.api_version == API_VERSION else None


def _cluster_plan(cluster: Cluster, lb_pool: str | None) -> ClusterPlan:
    return ClusterPlan(
        name=cluster.name,
        local=cluster.local,
        pod_cidr=str(IPv4Network(cluster.pod_cidr)),
        service_cidr=str(IPv4Network(cluster.service_cidr)),
        dns_ip=dns_ip(cluster.service_cidr),
        lb_pool=lb_pool,
        node_grace=cluster.node_grace,
    )


def _image_plans(
    deployments: list[Deployment], images: Mapping[str, ImageRef]
) -> dict[str, ImagePlan]:
    """Every pp.Image the deployments use, by name (each must be given a reference)."""
    used = sorted({i.name for d in deployments for i in d.images})
    missing = [name for name in used if name not in images]
    if missing:
        raise ValueError(f"no ImageRef given for images {missing}")
    return {name: ImagePlan(name=name, ref=images[name].ref, id=images[name].id) for name in used}


def _wanted(deployment: Deployment, images: Mapping[str, ImagePlan], resolve: Any) -> Wanted:
    """The deployment's pod template, its hash and what each of its pods requests."""
    template = pod_template(deployment, container_specs(deployment, images, resolve))
    requests = [c.resources for c in deployment.containers if c.resources is not None]
    return Wanted(
        deployment=deployment,
        template=template,
        hash=template_hash(template),
        cpu_millis=sum(r.cpu_millis or 0 for r in requests),
        memory_bytes=sum(r.memory_bytes or 0 for r in requests),
    )


@dataclass
class _Workloads:
    deployments: list[DeploymentPlan]
    pods: list[PodPlan]
    rollout: list[RolloutStep]


def _workloads(
    wanted: list[Wanted], placements: dict[DeploymentKey, Placement], previous: Plan | None
) -> _Workloads:
    """Each deployment's plan, its pods (oldest first) and the steps replacing old pods."""
    previous_hashes = (
        {(d.namespace, d.name): d.template_hash for d in previous.deployments} if previous else {}
    )
    out = _Workloads(deployments=[], pods=[], rollout=[])
    for w in wanted:
        d, placement = w.deployment, placements[w.key]
        strategy = strategy_of(d)
        ordered = placement.pods
        out.pods += ordered
        out.deployments.append(
            DeploymentPlan(
                name=d.name,
                namespace=d.namespace,
                replicas=d.replicas,
                template_hash=w.hash,
                template=w.template,
                strategy=strategy,
                next_serial=placement.next_serial,
                pods=[p.name for p in ordered],
            )
        )
        out.rollout += rollout_steps(
            d.namespace,
            d.name,
            d.replicas,
            strategy,
            placement.kept,
            placement.created,
            _unfinished_first(placement.old, previous_hashes.get(w.key)),
        )
    return out


def _unfinished_first(old: list[PodPlan], previous_hash: str | None) -> list[PodPlan]:
    """Old pods in the order the rollout removes them: those of a rollout that did not finish
    (the previous plan's template, next to older pods) first, as they are the likeliest not
    to be ready, then the oldest. Without such pods, oldest first."""
    return sorted(old, key=lambda p: p.template_hash != previous_hash)


def _resolver(addresses: Addresses) -> Any:
    def resolve(value: Unresolved) -> Any:
        key = (value.namespace, value.name)
        if value.attribute == "cluster_ip":
            return addresses.cluster_ips.get(key)
        if value.attribute == "external_ip":
            return addresses.lb_ips.get(key)
        for (ns, name, port, _protocol), node_port in addresses.node_ports.items():
            if (ns, name, port) == (*key, value.port):
                return node_port
        return None

    return resolve


def _resolve_all(value: Any, resolve: Any) -> Any:
    if isinstance(value, Unresolved):
        return resolve(value)
    if isinstance(value, list | tuple):
        return [_resolve_all(v, resolve) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_all(v, resolve) for k, v in value.items()}
    return value


def _pending(cluster: str, nodes: list[Any], addresses: Addresses) -> list[str]:
    pending = []
    if any(n.address is None for n in nodes):
        pending.append(
            f"node addresses and SSH details: known once the cluster exists "
            f"(podplay cluster create {cluster})"
        )
    for (namespace, name), ip in sorted(addresses.lb_ips.items()):
        if ip is None:
            pending.append(
                f"LoadBalancer IP of service {namespace}/{name}: the local cluster's pool is "
                "known once the cluster exists"
            )
    return pending
