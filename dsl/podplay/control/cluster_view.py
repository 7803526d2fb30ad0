"""What `get` and `describe` show beyond the agents: the cluster's store.

The agents say what runs on each node; the store says what the control plane knows: which
nodes hold a lease (NotReady since when, as the leading controller wrote it), which pods the
controller moved, and the events it recorded. Read with podplay's client certificate from
the control-plane members of the cluster's applied plan (or of its inventory's
`control_plane` group); a cluster without a store here, or a store that does not answer,
leaves the agents' view alone and gets one line saying why.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from podplay import paths
from podplay.artifacts import pki
from podplay.control.cluster_store import (
    StoreAccess,
    StoreUnavailable,
    StoreView,
    access_for,
    access_for_plan,
    read_events,
    read_view,
)
from podplay.errors import UserInputError
from podplay.node.contract.store import Event
from podplay.plan import Plan
from podplay.plan.facts import facts_from_inventory
from podplay.plan.refresh import apply_moves


@dataclass
class ClusterStore:
    """One cluster's store as the read commands use it: its view once read, or why not."""

    access: StoreAccess | None
    view: StoreView | None = None
    problem: str | None = None  # one sentence: the store could not be read
    _events: list[Event] | None = field(default=None, repr=False)

    @property
    def consulted(self) -> bool:
        """The cluster has a store this machine can ask (whether it answered or not)."""
        return self.access is not None

    def events(self) -> list[Event]:
        """The store's events (read once; none when the store cannot be read)."""
        if self._events is None:
            self._events = []
            if self.access is not None and self.view is not None:
                try:
                    self._events = read_events(self.access)
                except StoreUnavailable as err:
                    self.problem = str(err)
        return self._events


def open_store(cluster: str, inventory: Path | None, plan: Plan | None) -> ClusterStore:
    """The cluster's store, read now (its nodes, bindings and status)."""
    access = store_access(cluster, inventory, plan)
    if access is None:
        return ClusterStore(None)
    try:
        return ClusterStore(access, read_view(access))
    except StoreUnavailable as err:
        return ClusterStore(access, problem=str(err))


def store_access(cluster: str, inventory: Path | None, plan: Plan | None) -> StoreAccess | None:
    """Where the cluster's store is: the applied plan's control-plane members, else the
    inventory's `control_plane` group; certificates from the inventory's `podplay_pki_dir`
    or the cluster's own directory."""
    path = inventory or paths.cluster_dir(cluster) / "inventory.yml"
    data: Any = None
    with contextlib.suppress(OSError, yaml.YAMLError):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    root = data.get("all", data) if isinstance(data, dict) else None
    given = (root.get("vars") or {}).get("podplay_pki_dir") if isinstance(root, dict) else None
    given = given or _group_var(path, "podplay_pki_dir")
    pki_dir = Path(given) if given else pki.pki_dir(cluster)
    if plan is not None:
        return access_for_plan(plan, pki_dir)
    try:
        facts = facts_from_inventory(data, str(path))
    except UserInputError:
        return None
    return access_for(cluster, [(n.address, n.control_plane) for n in facts.nodes], pki_dir)


def _group_var(inventory: Path, name: str) -> Any:
    """A variable of `group_vars/all.yml` beside the inventory (`podplay compile`'s layout)."""
    try:
        data = yaml.safe_load((inventory.parent / "group_vars" / "all.yml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    return data.get(name) if isinstance(data, dict) else None


def with_moves(
    plan: Plan | None, cluster: str, inventory: Path | None
) -> tuple[Plan | None, ClusterStore]:
    """The cluster's applied plan with the controller's moves written in (a moved pod is
    where the store says), and the store it was read from."""
    store = open_store(cluster, inventory, plan)
    if plan is not None and store.view is not None:
        plan = apply_moves(plan, store.view.bindings.values(), store.view.cursors).plan
    return plan, store


# -- nodes ---------------------------------------------------------------------------------


def node_state(view: StoreView, node: str, now: float | None = None) -> dict[str, Any]:
    """What the store says of one node: whether it holds a lease (None: leases tell nothing
    here), since when it is in its state, and why it is NotReady."""
    now = time.time() if now is None else now
    if not view.leases_kept:
        return {"lease": None, "since": None, "store_message": None}
    lease = view.leases.get(node)
    status = view.statuses.get(node)
    if lease is None:
        since = view.not_ready_since(node)
        why = "its lease in the store expired: the control plane counts it NotReady"
        if since is not None:
            why += f" since {clock(since)} ({duration(now - since)} ago)"
        if status is not None and status.message:
            why += f"; {status.message}"
        return {"lease": False, "since": since, "store_message": why}
    since = status.since if status is not None and status.ready else lease.started or None
    return {"lease": True, "since": since, "store_message": None}


def clock(epoch: float) -> str:
    """An instant as the agents' events spell it (UTC, milliseconds)."""
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}Z"


def duration(seconds: float) -> str:
    """kubectl's age: `35s`, `4m12s`, `3h5m`, `2d4h`."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s" if s < 600 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


# -- events --------------------------------------------------------------------------------


def event_row(e: Event) -> dict[str, Any]:
    """A store event in the shape of the agents' events (`/v1/events`), plus its object."""
    obj = e.name if e.kind == "Pod" else f"{e.kind.lower()}/{e.name}"
    return {
        "time": clock(e.time),
        "namespace": e.namespace,
        "pod": e.name if e.kind == "Pod" else "",
        "object": obj,
        "type": e.type,
        "reason": e.reason,
        "message": e.message,
        "node": e.node,
        "source": e.source or "control plane",
    }


def store_events_for(
    events: Iterable[Event],
    *,
    pods: Iterable[tuple[str, str]] = (),
    deployments: Iterable[tuple[str, str]] = (),
    nodes: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The store's events about these pods, deployments and nodes, as event rows."""
    pod_keys, deployment_keys, node_names = set(pods), set(deployments), set(nodes)
    out = []
    for e in events:
        key = (e.namespace, e.name)
        if (
            (e.kind == "Pod" and key in pod_keys)
            or (e.kind == "Deployment" and key in deployment_keys)
            or (e.kind == "Node" and e.name in node_names)
        ):
            out.append(event_row(e))
    return out


def merge_events(*sources: Iterable[Mapping[str, Any]], limit: int = 20) -> list[Mapping[str, Any]]:
    """Events of several sources, oldest first, the last `limit`. The control plane tells a
    move to the pod and to its deployment alike: such twins (same instant, reason and
    message, from the store) are shown once."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Mapping[str, Any]] = []
    for e in sorted((e for s in sources for e in s), key=lambda e: str(e.get("time") or "")):
        if "source" in e:  # a store event
            key = (str(e.get("time") or ""), str(e.get("reason")), str(e.get("message")))
            if key in seen:
                continue
            seen.add(key)
        out.append(e)
    return out[-limit:]


def moved_from(store: ClusterStore, pods: Iterable[tuple[str, str]]) -> set[str]:
    """The nodes the controller moved these pods off (their events tell the story)."""
    if store.view is None:
        return set()
    wanted = set(pods)
    return {
        b.moved_from for key, b in store.view.bindings.items() if key in wanted and b.moved_from
    }
