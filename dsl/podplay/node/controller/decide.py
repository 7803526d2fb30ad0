"""What the leading controller does, decided (pure: the world and a clock in, writes out).

Two questions, asked at every turn:
- `readiness`: is each node Ready (its agent's lease is in the store), and since when? A
  node keeps its `since` while it stays as it was; a new leader takes `since` from the
  stored node status when that agrees, else starts counting now. `status_writes` says which
  `status/<node>` records (and NodeNotReady/NodeReady events) to write for that.
- `moves`: which pods leave which node. A node NotReady for `Table.node_grace` seconds has
  each of its Deployment pods re-placed by `podplay.node.placement` (the planner's rules:
  selector, capacity, spread, the next free IP after the node's cursor) on Ready nodes,
  counting every other binding, one pod after the other. Nothing moves while fewer than
  half of the nodes are Ready (a cluster starting up, or cut in pieces, is no node failure:
  Kubernetes stops evicting the same way), nor before the binding table exists.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Dict, List, NamedTuple, Optional, Tuple

from podplay.node import placement
from podplay.node.contract.store import Binding, Cursor, Event, NodeSpec, NodeStatus

from .world import World

RETRY = 5.0  # seconds before a pod that could not be placed is tried again
SOURCE = "controller"
LEASE_EXPIRED = "NodeLeaseExpired"
LEASE_HELD = "NodeLeaseHeld"


class NodeView(NamedTuple):
    name: str
    ready: bool
    since: float


class StatusWrite(NamedTuple):
    status: NodeStatus
    mod_revision: int  # of the stored status (0: none yet)
    events: Tuple[Event, ...]


class Move(NamedTuple):
    old: Binding
    mod_revision: int  # of the binding as read: the move fails if it changed
    new: Binding
    cursor: Cursor  # the new node's pod-IP cursor after this pod
    events: Tuple[Event, ...]


class Moves(NamedTuple):
    moves: List[Move]
    stuck: List[Event]  # a Warning per pod that cannot be placed now
    wake_at: Optional[float]  # when to look again without news
    held_back: str  # why nothing moves though nodes are due ("" when not held back)


def readiness(world: World, known: Dict[str, NodeView], now: float) -> Dict[str, NodeView]:
    """Every node of the table: Ready (lease present) or not, and since when."""
    out = {}
    for name in world.specs:
        ready = name in world.leases
        prev = known.get(name)
        stored = world.statuses.get(name)
        if prev is not None and prev.ready == ready:
            since = prev.since
        elif prev is None and stored is not None and stored[0].ready == ready:
            since = stored[0].since
        else:
            since = now
        out[name] = NodeView(name, ready, since)
    return out


def status_writes(world: World, views: Dict[str, NodeView], now: float) -> List[StatusWrite]:
    """The node statuses that differ from the views, with an event for each change."""
    out = []
    for view in views.values():
        stored = world.statuses.get(view.name)
        if stored is not None and (stored[0].ready, stored[0].since) == (view.ready, view.since):
            continue
        if view.ready:
            status = NodeStatus(
                view.name, True, view.since, LEASE_HELD, "the agent holds its lease"
            )
            event = _node_event(now, "Normal", "NodeReady", "node %s is Ready" % view.name, view)
        else:
            status = NodeStatus(
                view.name, False, view.since, LEASE_EXPIRED, "no lease from the node's agent"
            )
            event = _node_event(
                now,
                "Warning",
                "NodeNotReady",
                "node %s is NotReady: its agent's lease expired" % view.name,
                view,
            )
        changed_state = stored is None or stored[0].ready != view.ready
        first_sight_ready = stored is None and view.ready
        events = (event,) if changed_state and not first_sight_ready else ()
        out.append(StatusWrite(status, stored[1] if stored else 0, events))
    return out


def _node_event(now: float, type_: str, reason: str, message: str, view: NodeView) -> Event:
    return Event(now, type_, reason, message, "Node", "", view.name, view.name, SOURCE)


def moves(world: World, views: Dict[str, NodeView], now: float) -> Moves:
    """The pods to move off nodes NotReady for the grace period, and where."""
    if world.table is None:
        return Moves([], [], None, "")
    grace = world.table.node_grace
    due = {v.name: now - v.since for v in views.values() if not v.ready and now - v.since >= grace}
    pending = [v.since + grace for v in views.values() if not v.ready and v.name not in due]
    wake_at = min(pending) if pending else None
    leaving = sorted(
        (b for b, _ in world.bindings.values() if b.node in due and b.deployment),
        key=lambda b: (b.namespace, b.deployment, b.name),
    )
    if not leaving:
        return Moves([], [], wake_at, "")
    ready = sum(1 for v in views.values() if v.ready)
    if ready * 2 < len(views):
        why = "only %d of %d nodes are Ready" % (ready, len(views))
        return Moves([], [], wake_at, why)
    states = _states(world, views, {b.key for b in leaving})
    by_name = {s.name: s for s in states}
    out: List[Move] = []
    stuck: List[Event] = []
    for b in leaving:
        request = placement.Request(b.requests.cpu_millis, b.requests.memory_bytes)
        placed = placement.place_pods(
            states, (b.namespace, b.deployment), b.node_selector, request, 1
        )
        if placed.infeasible is not None:
            stuck.append(_stuck(b, placed.infeasible, now))
            continue
        target = placed.bindings[0]
        reason = "node %s NotReady for %.1fs" % (b.node, due[b.node])
        new = b.moved_to(target.node, target.ip, round(now, 3), reason)
        cursor = Cursor(
            by_name[target.node].last_ip() or target.ip, world.specs[target.node].last_pod_ip
        )
        out.append(Move(b, world.bindings[b.key][1], new, cursor, _move_events(b, new, now)))
    if stuck:
        wake_at = min([now + RETRY] + ([wake_at] if wake_at is not None else []))
    return Moves(out, stuck, wake_at, "")


def _states(world: World, views: Dict[str, NodeView], leaving: set) -> List[placement.NodeState]:
    """Placement's view: every node (Ready = lease held) with every pod that stays."""
    nodes = [
        _node(spec, views[name].ready, world.cursors.get(name))
        for name, spec in world.specs.items()
    ]
    placed = [
        placement.PlacedPod(
            (b.namespace, b.deployment),
            b.node,
            b.ip,
            placement.Request(b.requests.cpu_millis, b.requests.memory_bytes),
        )
        for b, _ in world.bindings.values()
        if b.key not in leaving
    ]
    return placement.node_states(nodes, placed)


def _node(spec: NodeSpec, ready: bool, cursor: Optional[Cursor]) -> placement.Node:
    return placement.Node(
        name=spec.name,
        pod_cidr=spec.pod_cidr,
        labels=dict(spec.labels),
        ready=ready,
        cpu_millis=spec.cpu_millis,
        memory_bytes=spec.memory_bytes,
        max_pods=spec.max_pods,
        last_pod_ip=_later(spec.last_pod_ip, cursor.last_pod_ip if cursor else None),
    )


def _later(a: Optional[str], b: Optional[str]) -> Optional[str]:
    """The later of the plan's cursor and the controller's (None when neither is)."""
    known = [ip for ip in (a, b) if ip]
    return max(known, key=lambda ip: int(IPv4Address(ip))) if known else None


def _move_events(old: Binding, new: Binding, now: float) -> Tuple[Event, ...]:
    message = "pod %s moved from %s to %s (%s)" % (old.name, old.node, new.node, new.reason)
    return (
        Event(
            now, "Normal", "Rescheduled", message, "Pod", old.namespace, old.name, new.node, SOURCE
        ),
        Event(
            now,
            "Normal",
            "Rescheduled",
            message,
            "Deployment",
            old.namespace,
            old.deployment,
            new.node,
            SOURCE,
        ),
    )


def _stuck(b: Binding, why: placement.Infeasible, now: float) -> Event:
    if why.reason == placement.NO_ROOM:
        detail = "no Ready node has room for its requests"
    elif why.reason == placement.SELECTOR_MATCHES_NO_READY_NODE:
        detail = "its node selector matches no Ready node"
    elif why.reason == placement.NO_FREE_IP:
        detail = "node %s has no free pod IP in %s" % (why.node, why.pod_cidr)
    else:
        detail = "no node is Ready"
    message = "pod %s on NotReady node %s cannot be moved: %s; trying again" % (
        b.name,
        b.node,
        detail,
    )
    return Event(
        now, "Warning", "FailedRescheduling", message, "Pod", b.namespace, b.name, b.node, SOURCE
    )
