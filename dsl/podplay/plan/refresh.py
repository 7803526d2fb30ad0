"""Refresh (as `pulumi refresh` does): the plan last applied, corrected by what the cluster's
controller did since, before the next plan is made against it.

The plan decides where pods run, but the cluster's controller moves a Deployment pod off a
node that stayed NotReady (same name and template, a new node and an IP from that node's
pod CIDR) and records the move in the store's binding table (`Binding`, placed_by
"controller"), with its pod-IP cursor per node (`Cursor`). `apply_moves` writes those moves
into a plan: the pod's node, IP and manifest IP, the services' endpoints, and each node's
IP cursor when the controller's is later. Planning an unchanged program against the
refreshed plan then keeps the moved pods where they are (no pod changes), and the rendered
Ansible agrees with the store.

Pure: the store is read by `podplay.control.cluster_store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from podplay.node.contract import addresses
from podplay.node.contract.store import PLACED_BY_CONTROLLER, Binding, Cursor
from podplay.plan.model import NodePlan, Plan, PodPlan
from podplay.plan.services import endpoints_for


@dataclass(frozen=True)
class Move:
    """One pod the controller moved: from the plan's node to the store's."""

    namespace: str
    name: str
    from_node: str
    to_node: str
    ip: str
    reason: str | None = None

    def __str__(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return (
            f"pod {self.namespace}/{self.name} moved from {self.from_node} to {self.to_node}, "
            f"ip {self.ip}{why}"
        )


@dataclass(frozen=True)
class Refreshed:
    """A plan with the controller's moves written in, the moves, and the bindings left out
    (one sentence each: the plan stays as it was for those pods)."""

    plan: Plan
    moves: list[Move] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def apply_moves(
    plan: Plan, bindings: Iterable[Binding], cursors: Mapping[str, Cursor] | None = None
) -> Refreshed:
    """`plan` with every controller move of one of its pods written in (see the module).

    A binding is taken when the controller placed it, names a pod of the plan with the same
    template, and puts it on a node of the plan at a pod IP of that node's CIDR that no other
    pod holds. Bindings the plan made (placed_by "plan") or for pods the plan lacks are
    left alone: the plan decides those, and the next table write follows it."""
    nodes = {n.name: n for n in plan.nodes}
    pods = {(p.namespace, p.name): p for p in plan.pods}
    held = {(p.node, p.ip): (p.namespace, p.name) for p in plan.pods}
    moves: list[Move] = []
    ignored: list[str] = []
    for b in sorted(bindings, key=lambda b: b.key):
        pod = pods.get(b.key)
        if b.placed_by != PLACED_BY_CONTROLLER or pod is None:
            continue
        if (b.node, b.ip) == (pod.node, pod.ip):
            continue
        why = _unusable(b, pod, nodes.get(b.node), held)
        if why:
            ignored.append(f"binding of pod {b.namespace}/{b.name}: {why}; kept as planned")
            continue
        del held[(pod.node, pod.ip)]
        held[(b.node, b.ip)] = b.key
        pods[b.key] = pod.model_copy(
            update={"node": b.node, "ip": b.ip, "manifest": {**pod.manifest, "ip": b.ip}}
        )
        moves.append(Move(b.namespace, b.name, pod.node, b.node, b.ip, b.reason))
    new_nodes = [_cursor(n, (cursors or {}).get(n.name)) for n in plan.nodes]
    if not moves and new_nodes == plan.nodes:
        return Refreshed(plan, [], ignored)
    new_pods = [pods[(p.namespace, p.name)] for p in plan.pods]
    services = [
        s.model_copy(update={"endpoints": endpoints_for(s, new_pods)}) for s in plan.services
    ]
    changed = {"nodes": new_nodes, "pods": new_pods, "services": services}
    return Refreshed(plan.model_copy(update=changed), moves, ignored)


def _unusable(
    b: Binding, pod: PodPlan, node: NodePlan | None, held: Mapping[tuple[str, str], object]
) -> str | None:
    """Why a controller binding cannot be written into the plan (None: it can)."""
    if b.template_hash and b.template_hash != pod.template_hash:
        return f"template {b.template_hash} is not the plan's {pod.template_hash}"
    if node is None:
        return f"node {b.node} is not in the plan"
    if addresses.pod_offset(node.pod_cidr, b.ip) is None:
        return f"ip {b.ip} is not a pod address of {node.name} ({node.pod_cidr})"
    owner = held.get((b.node, b.ip))
    if owner is not None and owner != b.key:
        return f"ip {b.ip} on {b.node} is held by pod {owner[0]}/{owner[1]}"
    return None


def _cursor(node: NodePlan, cursor: Cursor | None) -> NodePlan:
    """The node with the later of its cursor and the controller's: the controller's when it
    went on from the plan's (its `base`), else the higher address."""
    if cursor is None or addresses.pod_offset(node.pod_cidr, cursor.last_pod_ip) is None:
        return node
    ours = addresses.pod_offset(node.pod_cidr, node.last_pod_ip)
    theirs = addresses.pod_offset(node.pod_cidr, cursor.last_pod_ip)
    later = ours is None or cursor.base == node.last_pod_ip or (theirs or 0) > ours
    if not later or cursor.last_pod_ip == node.last_pod_ip:
        return node
    return node.model_copy(update={"last_pod_ip": cursor.last_pod_ip})
