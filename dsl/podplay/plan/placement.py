"""The planner's side of placement: stability across plans, pod names, manifests, errors.

Stable first: pods of an unchanged template stay where they are (scaling down drops the
newest), on a node still eligible for them. What is missing is placed by the rules shared
with the control-plane controller (`podplay.node.placement`: eligibility, capacity, spread,
the next free IP after the node's allocation cursor `NodePlan.last_pod_ip`). Every pod of
the previous plan still holds its IP for that (old and new pods coexist during a rollout),
so an IP that a rollout or a scale-down just released is not handed out again at once,
while its old pod may still be stopping (as host-local IPAM rotates). A previous plan
without cursors (an older podplay's) continues after the highest IP it holds on the node.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from podplay.dsl import Deployment, ProgramError, Recreate
from podplay.dsl.diagnostics import show
from podplay.node import placement as rules
from podplay.node.contract.containers import ContainerSpec
from podplay.plan.model import NodePlan, PodPlan, Strategy
from podplay.plan.templates import pod_manifest, pod_name, template_containers

DeploymentKey = rules.DeploymentKey


@dataclass
class Wanted:
    """One deployment as the scheduler needs it."""

    deployment: Deployment
    template: dict[str, Any]
    hash: str
    cpu_millis: int
    memory_bytes: int

    @property
    def key(self) -> DeploymentKey:
        return (self.deployment.namespace, self.deployment.name)

    @property
    def request(self) -> rules.Request:
        return rules.Request(cpu_millis=self.cpu_millis, memory_bytes=self.memory_bytes)


@dataclass
class Placement:
    """The scheduler's decisions for one deployment."""

    kept: list[PodPlan]
    created: list[PodPlan]
    old: list[PodPlan]
    next_serial: int

    @property
    def pods(self) -> list[PodPlan]:
        """The deployment's pods in the plan, oldest first."""
        return sorted(self.kept + self.created, key=lambda p: p.serial)


@dataclass
class Scheduled:
    """Every deployment's placement, and the nodes with their IP cursors moved on."""

    placements: dict[DeploymentKey, Placement]
    nodes: list[NodePlan]


@dataclass
class _Scheduling:
    """What placing one plan's pods shares: node states, names taken, manifest settings."""

    states: list[rules.NodeState]
    names: set[str]
    dns_ip: str
    cluster_domain: str
    by_name: dict[str, rules.NodeState] = field(init=False)
    containers: dict[DeploymentKey, tuple[ContainerSpec, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {s.name: s for s in self.states}

    def manifest(self, w: Wanted, name: str, ip: str) -> dict[str, Any]:
        containers = self.containers.get(w.key)
        if containers is None:  # read once per deployment: every pod of it has the same
            where = f"{w.deployment.namespace}/{w.deployment.name}"
            containers = self.containers[w.key] = template_containers(w.template, where)
        return pod_manifest(
            name=name,
            namespace=w.deployment.namespace,
            deployment=w.deployment.name,
            template=w.template,
            hash_=w.hash,
            ip=ip,
            dns_ip=self.dns_ip,
            cluster_domain=self.cluster_domain,
            containers=containers,
        )


def schedule(
    wanted: list[Wanted],
    nodes: list[NodePlan],
    previous_pods: list[PodPlan],
    previous_serials: dict[DeploymentKey, int],
    dns_ip: str,
    cluster_domain: str,
) -> Scheduled:
    """Place every deployment's pods; `wanted` in a fixed order (sorted by key).

    Each node's `last_pod_ip` is the cursor the previous plan left (carried by `plan_nodes`);
    the nodes returned carry it moved past the IPs handed out now."""
    states = rules.node_states([_rules_node(n) for n in nodes])
    run = _Scheduling(states, {p.name for p in previous_pods}, dns_ip, cluster_domain)
    by_deployment: dict[DeploymentKey, list[PodPlan]] = defaultdict(list)
    for pod in previous_pods:
        by_deployment[(pod.namespace, pod.deployment)].append(pod)
        state = run.by_name.get(pod.node)
        if state is not None:
            state.reserve_ip(pod.ip)
    placements = {  # keep what still fits the program, oldest first
        w.key: _keep(run, w, by_deployment.get(w.key, []), previous_serials.get(w.key, 0))
        for w in wanted
    }
    for w in wanted:  # then place what is missing
        _create_missing(run, w, placements[w.key])
    cursors = {s.name: s.last_ip() for s in states}
    return Scheduled(
        placements, [n.model_copy(update={"last_pod_ip": cursors[n.name]}) for n in nodes]
    )


def _rules_node(node: NodePlan) -> rules.Node:
    return rules.Node(
        name=node.name,
        pod_cidr=node.pod_cidr,
        labels=node.labels,
        ready=node.ready,
        cpu_millis=node.capacity.cpu_millis,
        memory_bytes=node.capacity.memory_bytes,
        max_pods=node.capacity.pods,
        last_pod_ip=node.last_pod_ip,
    )


def _keep(run: _Scheduling, w: Wanted, previous: list[PodPlan], serial: int) -> Placement:
    """The previous pods of `w` on nodes still eligible for them: those of its template
    (up to the replicas, oldest first) are kept, the others are old (rolled out)."""
    same: list[PodPlan] = []
    old: list[PodPlan] = []
    for pod in sorted(previous, key=lambda p: p.serial):
        serial = max(serial, pod.serial + 1)
        state = run.by_name.get(pod.node)
        usable = (
            state is not None
            and rules.eligible(state.node, w.deployment.node_selector)
            and state.holds(pod.ip) is not None
        )
        if usable:
            (same if pod.template_hash == w.hash else old).append(pod)
    kept = []
    for pod in same[: w.deployment.replicas]:
        run.by_name[pod.node].add(w.key, w.request)
        kept.append(pod.model_copy(update={"manifest": run.manifest(w, pod.name, pod.ip)}))
    return Placement(kept=kept, created=[], old=old, next_serial=serial)


def _create_missing(run: _Scheduling, w: Wanted, placement: Placement) -> None:
    """New pods for the replicas `placement` lacks, placed by the shared rules."""
    d = w.deployment
    missing = d.replicas - len(placement.kept)
    if missing <= 0:
        return
    placed = rules.place_pods(run.states, w.key, d.node_selector, w.request, missing)
    if placed.infeasible is not None:
        raise _infeasible(w, len(placement.kept), placed.infeasible)
    for binding in placed.bindings:
        serial = placement.next_serial
        placement.next_serial += 1
        name = _fresh_name(run.names, d, w.hash, serial)
        placement.created.append(
            PodPlan(
                name=name,
                namespace=d.namespace,
                deployment=d.name,
                template_hash=w.hash,
                serial=serial,
                node=binding.node,
                ip=binding.ip,
                manifest=run.manifest(w, name, binding.ip),
            )
        )


def _fresh_name(names: set[str], d: Deployment, hash_: str, serial: int) -> str:
    """The pod's name, salted until no pod of this or the previous plan has it."""
    salt = 0
    name = pod_name(d.name, d.namespace, hash_, serial)
    while name in names:
        salt += 1
        name = pod_name(d.name, d.namespace, hash_, serial, salt)
    names.add(name)
    return name


def _infeasible(w: Wanted, kept: int, why: rules.Infeasible) -> ProgramError:
    d = w.deployment
    if why.reason == rules.NO_FREE_IP:
        return ProgramError.one(
            d.location,
            d.describe(),
            f"node {why.node} has no free pod IP left in {why.pod_cidr}",
        )
    head = f"replica {kept + why.index + 1} of {d.replicas} cannot be placed"
    if why.reason == rules.NO_READY_NODE:
        reason = "no node is ready"
    elif why.reason == rules.SELECTOR_MATCHES_NO_READY_NODE:
        reason = f"node_selector {show(d.node_selector)} matches no ready node"
    else:
        request = []
        if w.cpu_millis:
            request.append(f"cpu {w.cpu_millis}m")
        if w.memory_bytes:
            request.append(f"memory {_mib(w.memory_bytes)}")
        wants = " and ".join(request) or "a pod slot"
        room = why.room
        free = "; ".join(_free(r) for r in room[:4]) + ("; ..." if len(room) > 4 else "")
        reason = (
            f"each pod requests {wants}, and no eligible node has room ({free}); "
            "lower the replicas or requests, or add nodes"
        )
    return ProgramError.one(d.location, d.describe(), f"{head}: {reason}")


def _free(room: rules.Room) -> str:
    parts = []
    if room.cpu_millis is not None:
        parts.append(f"cpu {room.cpu_millis}m")
    if room.memory_bytes is not None:
        parts.append(f"memory {_mib(room.memory_bytes)}")
    parts.append(f"{room.pods} pods")
    return f"{room.node} free: " + ", ".join(parts)


def _mib(value: int) -> str:
    return f"{value // 2**20}Mi" if value % 2**20 == 0 else f"{value}B"


def strategy_of(deployment: Deployment) -> Strategy:
    """The deployment's strategy (and its rolling-update limits) as plan data."""
    strategy = deployment.strategy
    if isinstance(strategy, Recreate):
        return Strategy(type="Recreate")
    return Strategy(
        type="RollingUpdate",
        max_surge=strategy.max_surge,
        max_unavailable=strategy.max_unavailable,
    )
