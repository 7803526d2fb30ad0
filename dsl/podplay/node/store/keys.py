"""The key layout of the cluster's store: the one place that builds and parses keys.

Everything podplay keeps in the store sits under `/podplay/<cluster>/` (one etcd per
cluster, but the prefix keeps a shared or reused store unambiguous):

    /podplay/<cluster>/nodes/<node>               a node's lease: its agent is alive
    /podplay/<cluster>/leader                     the controller holding leadership
    /podplay/<cluster>/bindings/<ns>/<pod>        where a pod runs (the plan's or a move)
    /podplay/<cluster>/nodespecs/<node>           a node as placement sees it (from the plan)
    /podplay/<cluster>/cursors/<node>             the controller's pod-IP cursor on a node
    /podplay/<cluster>/table                      the binding table is complete (generation)
    /podplay/<cluster>/status/<node>              Ready/NotReady since when (the leader's)
    /podplay/<cluster>/events/<ms>-<id>           an event (time-ordered: 13-digit epoch ms)

Values are JSON documents, one record type per kind, defined once in
`podplay.node.contract.store`. Names are DNS labels (no `/`), so every
key parses back to its parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

ROOT = "/podplay"
NODES = "nodes"
LEADER = "leader"
BINDINGS = "bindings"
NODESPECS = "nodespecs"
CURSORS = "cursors"
TABLE = "table"
STATUS = "status"
EVENTS = "events"
PER_NODE = (NODES, NODESPECS, CURSORS, STATUS)  # kinds keyed by node name


@dataclass(frozen=True)
class StoreKey:
    """A key taken apart: its kind and the names in it (unused ones empty)."""

    cluster: str
    kind: str  # nodes | leader | bindings | nodespecs | cursors | table | status | events
    node: str = ""
    namespace: str = ""
    pod: str = ""
    event: str = ""


def _part(what: str, value: str) -> str:
    if not value or "/" in value:
        raise ValueError("%s %r cannot be part of a store key (empty or holds '/')" % (what, value))
    return value


def cluster_prefix(cluster: str) -> str:
    """Every key of the cluster starts with this (ends with `/`)."""
    return "%s/%s/" % (ROOT, _part("cluster", cluster))


def nodes_prefix(cluster: str) -> str:
    return cluster_prefix(cluster) + NODES + "/"


def node_key(cluster: str, node: str) -> str:
    """The node's lease key: present while its agent keeps the lease alive."""
    return nodes_prefix(cluster) + _part("node", node)


def leader_key(cluster: str) -> str:
    """Held (with a lease) by the controller instance that acts."""
    return cluster_prefix(cluster) + LEADER


def bindings_prefix(cluster: str, namespace: Optional[str] = None) -> str:
    base = cluster_prefix(cluster) + BINDINGS + "/"
    return base if namespace is None else base + _part("namespace", namespace) + "/"


def binding_key(cluster: str, namespace: str, pod: str) -> str:
    """Where the controller records the node a pod is bound to."""
    return bindings_prefix(cluster, namespace) + _part("pod", pod)


def nodespec_key(cluster: str, node: str) -> str:
    """The node as the plan describes it to placement (NodeSpec)."""
    return cluster_prefix(cluster) + NODESPECS + "/" + _part("node", node)


def cursor_key(cluster: str, node: str) -> str:
    """The controller's pod-IP cursor on a node (Cursor)."""
    return cluster_prefix(cluster) + CURSORS + "/" + _part("node", node)


def status_key(cluster: str, node: str) -> str:
    """The leader's view of a node's readiness (NodeStatus)."""
    return cluster_prefix(cluster) + STATUS + "/" + _part("node", node)


def kind_prefix(cluster: str, kind: str) -> str:
    """Every key of one per-node kind (`nodes`, `nodespecs`, `cursors`, `status`)."""
    if kind not in PER_NODE:
        raise ValueError("%r is not a per-node kind of key" % kind)
    return cluster_prefix(cluster) + kind + "/"


def table_key(cluster: str) -> str:
    """Present once the binding table is complete (Table)."""
    return cluster_prefix(cluster) + TABLE


def events_prefix(cluster: str) -> str:
    return cluster_prefix(cluster) + EVENTS + "/"


def event_key(cluster: str, time_ms: int, event_id: str) -> str:
    """Events sort by time: a zero-padded epoch in milliseconds, then a unique id."""
    if time_ms < 0:
        raise ValueError("event time %r is negative" % time_ms)
    return events_prefix(cluster) + "%013d-%s" % (time_ms, _part("event id", event_id))


def parse_key(key: str) -> StoreKey:
    """The parts of a key this module builds; ValueError for any other key."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != "" or "/" + parts[1] != ROOT or not parts[2]:
        raise ValueError("%r is not a podplay store key" % key)
    cluster, kind, rest = parts[2], parts[3], parts[4:]
    if kind in (LEADER, TABLE) and not rest:
        return StoreKey(cluster, kind)
    if kind in PER_NODE and len(rest) == 1 and rest[0]:
        return StoreKey(cluster, kind, node=rest[0])
    if kind == BINDINGS and len(rest) == 2 and all(rest):
        return StoreKey(cluster, kind, namespace=rest[0], pod=rest[1])
    if kind == EVENTS and len(rest) == 1 and rest[0]:
        return StoreKey(cluster, kind, event=rest[0])
    raise ValueError("%r is not a podplay store key" % key)
