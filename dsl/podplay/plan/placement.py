"""Which node runs each pod, and the pod's IP in that node's /24.

Stable first: pods of an unchanged template stay where they are (scaling down drops the
newest). New pods go to the least-loaded eligible node, counting first this deployment's
pods there (spreading replicas), then all pods, then node order (the deterministic
tie-break). Eligible: ready, labels matching the node selector, room for the pod's CPU and
memory requests and pod count. IPs: the next free of .2-.254 after the node's allocation
cursor (`NodePlan.last_pod_ip`, the last IP handed out there by any plan; wrapping round),
never one a pod of the previous plan still holds (old and new pods coexist during a
rollout). So an IP that a rollout or a scale-down just released is not handed out again at
once, while its old pod may still be stopping (as host-local IPAM rotates). A previous plan
without cursors (an older podplay's) continues after the highest IP it holds on the node.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from itertools import chain
from typing import Any

from podplay.dsl import Deployment, ProgramError
from podplay.dsl.diagnostics import show
from podplay.plan.model import NodePlan, PodPlan, Strategy
from podplay.plan.templates import pod_manifest, pod_name

DeploymentKey = tuple[str, str]


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


@dataclass
class _Node:
    plan: NodePlan
    order: int
    net: IPv4Network
    pods: int = 0
    cpu: int = 0
    memory: int = 0
    per_deployment: Counter[DeploymentKey] = field(default_factory=Counter)
    used: set[int] = field(default_factory=set)
    last: int | None = None  # offset of the last IP handed out (the allocation cursor)
    recorded: bool = False  # `last` came from the previous plan's cursor

    def add(self, wanted: Wanted) -> None:
        self.pods += 1
        self.cpu += wanted.cpu_millis
        self.memory += wanted.memory_bytes
        self.per_deployment[wanted.key] += 1

    def fits(self, wanted: Wanted) -> bool:
        cap = self.plan.capacity
        return (
            self.pods < cap.pods
            and (cap.cpu_millis is None or self.cpu + wanted.cpu_millis <= cap.cpu_millis)
            and (cap.memory_bytes is None or self.memory + wanted.memory_bytes <= cap.memory_bytes)
        )

    def take_ip(self) -> str | None:
        """The next free IP after the last one given, wrapping round to the lowest free."""
        top = self.net.num_addresses - 2
        start = 2 if self.last is None else self.last + 1
        for offset in chain(range(start, top + 1), range(2, min(start, top + 1))):
            if offset not in self.used:
                self.used.add(offset)
                self.last = offset
                return self.address(offset)
        return None

    def address(self, offset: int) -> str:
        return str(IPv4Address(int(self.net.network_address) + offset))

    def last_ip(self) -> str | None:
        """The cursor as the plan records it (`NodePlan.last_pod_ip`)."""
        return None if self.last is None else self.address(self.last)

    def holds(self, ip: str) -> int | None:
        offset = int(IPv4Address(ip)) - int(self.net.network_address)
        return offset if 0 <= offset < self.net.num_addresses else None

    def pod_offset(self, ip: str | None) -> int | None:
        """The offset of `ip` when it is a pod address of this node (.2 to broadcast - 1)."""
        offset = self.holds(ip) if ip else None
        return offset if offset is not None and 2 <= offset <= self.net.num_addresses - 2 else None


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


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@dataclass
class Scheduled:
    """Every deployment's placement, and the nodes with their IP cursors moved on."""

    placements: dict[DeploymentKey, Placement]
    nodes: list[NodePlan]


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
    states = {n.name: _Node(n, i, IPv4Network(n.pod_cidr)) for i, n in enumerate(nodes)}
    for node in states.values():
        node.last = node.pod_offset(node.plan.last_pod_ip)
        node.recorded = node.last is not None
    by_deployment: dict[DeploymentKey, list[PodPlan]] = defaultdict(list)
    names: set[str] = set()
    for pod in previous_pods:
        by_deployment[(pod.namespace, pod.deployment)].append(pod)
        names.add(pod.name)
        node = states.get(pod.node)
        offset = node.holds(pod.ip) if node else None
        if node is not None and offset is not None:
            node.used.add(offset)
            if not node.recorded:  # a plan without cursors: go on after its highest IP
                node.last = max(offset, node.last or 0)

    def manifest(w: Wanted, name: str, ip: str) -> dict[str, Any]:
        return pod_manifest(
            name=name,
            namespace=w.deployment.namespace,
            deployment=w.deployment.name,
            template=w.template,
            hash_=w.hash,
            ip=ip,
            dns_ip=dns_ip,
            cluster_domain=cluster_domain,
        )

    placements: dict[DeploymentKey, Placement] = {}
    for w in wanted:  # keep what still fits the program, oldest first
        selector = w.deployment.node_selector
        same: list[PodPlan] = []
        old: list[PodPlan] = []
        serial = previous_serials.get(w.key, 0)
        for pod in sorted(by_deployment.get(w.key, []), key=lambda p: p.serial):
            serial = max(serial, pod.serial + 1)
            node = states.get(pod.node)
            usable = (
                node is not None
                and node.plan.ready
                and _selects(selector, node.plan.labels)
                and node.holds(pod.ip) is not None
            )
            if usable:
                (same if pod.template_hash == w.hash else old).append(pod)
        kept = []
        for pod in same[: w.deployment.replicas]:
            states[pod.node].add(w)
            kept.append(pod.model_copy(update={"manifest": manifest(w, pod.name, pod.ip)}))
        placements[w.key] = Placement(kept=kept, created=[], old=old, next_serial=serial)

    ordered = list(states.values())
    for w in wanted:  # then place what is missing
        placement = placements[w.key]
        need = w.deployment.replicas - len(placement.kept)
        if need <= 0:
            continue
        matching = [
            n
            for n in ordered
            if n.plan.ready and _selects(w.deployment.node_selector, n.plan.labels)
        ]
        for replica in range(len(placement.kept), w.deployment.replicas):
            node = min(
                (n for n in matching if n.fits(w)),
                key=lambda n: (n.per_deployment[w.key], n.pods, n.order),
                default=None,
            )
            if node is None:
                raise _infeasible(w, replica, matching, ordered)
            ip = node.take_ip()
            if ip is None:
                raise ProgramError.one(
                    w.deployment.location,
                    w.deployment.describe(),
                    f"node {node.plan.name} has no free pod IP left in {node.plan.pod_cidr}",
                )
            serial = placement.next_serial
            placement.next_serial += 1
            salt = 0
            name = pod_name(w.deployment.name, w.deployment.namespace, w.hash, serial)
            while name in names:
                salt += 1
                name = pod_name(w.deployment.name, w.deployment.namespace, w.hash, serial, salt)
            names.add(name)
            node.add(w)
            placement.created.append(
                PodPlan(
                    name=name,
                    namespace=w.deployment.namespace,
                    deployment=w.deployment.name,
                    template_hash=w.hash,
                    serial=serial,
                    node=node.plan.name,
                    ip=ip,
                    manifest=manifest(w, name, ip),
                )
            )
    return Scheduled(
        placements,
        [n.plan.model_copy(update={"last_pod_ip": n.last_ip()}) for n in states.values()],
    )


def _infeasible(w: Wanted, replica: int, matching: list[_Node], nodes: list[_Node]) -> ProgramError:
    d = w.deployment
    head = f"replica {replica + 1} of {d.replicas} cannot be placed"
    if not nodes or not any(n.plan.ready for n in nodes):
        reason = "no node is ready"
    elif not matching:
        reason = f"node_selector {show(d.node_selector)} matches no ready node"
    else:
        request = []
        if w.cpu_millis:
            request.append(f"cpu {w.cpu_millis}m")
        if w.memory_bytes:
            request.append(f"memory {_mib(w.memory_bytes)}")
        wants = " and ".join(request) or "a pod slot"
        free = "; ".join(_free(n) for n in matching[:4]) + ("; ..." if len(matching) > 4 else "")
        reason = (
            f"each pod requests {wants}, and no eligible node has room ({free}); "
            "lower the replicas or requests, or add nodes"
        )
    return ProgramError.one(d.location, d.describe(), f"{head}: {reason}")


def _free(node: _Node) -> str:
    cap = node.plan.capacity
    parts = []
    if cap.cpu_millis is not None:
        parts.append(f"cpu {cap.cpu_millis - node.cpu}m")
    if cap.memory_bytes is not None:
        parts.append(f"memory {_mib(cap.memory_bytes - node.memory)}")
    parts.append(f"{cap.pods - node.pods} pods")
    return f"{node.plan.name} free: " + ", ".join(parts)


def _mib(value: int) -> str:
    return f"{value // 2**20}Mi" if value % 2**20 == 0 else f"{value}B"


def strategy_of(deployment: Deployment) -> Strategy:
    """The deployment's rolling-update limits as plan data."""
    return Strategy(
        max_surge=deployment.strategy.max_surge,
        max_unavailable=deployment.strategy.max_unavailable,
    )
