"""Which endpoints are ready, from the agents' pushed snapshots and a clock. Pure and locked.

Every node's agent streams `/v1/pods?watch=1`: a snapshot line whenever a pod changes and a
heartbeat at least every second. The watchers feed those lines here; the proxy loop asks
`ready(state, now)`. An endpoint is ready when the latest snapshot of the node it was
planned on lists that pod, with that IP, as ready, AND that node's stream delivered a line
within the last `timeout` seconds (2 s by contract): a node that stops answering takes all
its endpoints with it. A broken connection alone does not (an agent restart reconnects
within the timeout and must not flap every service); silence does.

An agent of an older bundle speaks plain HTTP, which the watchers no longer use (the token
would cross in clear); while it answers its plain `/healthz`, `hold` keeps that node alive
with its last snapshot, or, in a proxy started meanwhile, with what the previous proxy
process routed (`seed`, from its status file): fail static for the seconds of an upgrade.

The clock is passed in, so tests drive time exactly (no sleeping).
"""

from __future__ import annotations

import threading
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

from podplay.node.contract.proxy_status import parse_endpoint_key
from podplay.node.proxy.state import ClusterState, Endpoint

NODE_TIMEOUT = 2.0

PodKey = Tuple[str, str]  # (namespace, name)


def ready_pods(pods: Iterable[Any]) -> Dict[PodKey, str]:
    """{(namespace, name): ip} of the ready pods in one agent snapshot. Lenient on purpose,
    unlike the waits' strict `podplay.node.contract.pod_status`: a field added or dropped
    between two bundles during an upgrade must never take endpoints out of routing."""
    out: Dict[PodKey, str] = {}
    for pod in pods:
        if not isinstance(pod, dict) or pod.get("ready") is not True:
            continue
        if pod.get("phase") not in (None, "Running"):
            continue
        name, ip = pod.get("name"), pod.get("ip")
        if isinstance(name, str) and isinstance(ip, str):
            out[(pod.get("namespace") or "default", name)] = ip
    return out


class Readiness:
    """Latest snapshot and last-heard time per node; thread-safe."""

    def __init__(self, timeout: float = NODE_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pods: Dict[str, Dict[PodKey, str]] = {}
        self._seen: Dict[str, float] = {}
        self._generation: Dict[str, int] = {}
        self._seed: Dict[PodKey, str] = {}

    def snapshot(self, node: str, pods: Iterable[Any], now: float, generation: int = 0) -> bool:
        """Record a snapshot; True when the node's set of ready pods changed."""
        table = ready_pods(pods)
        with self._lock:
            alive_before = node in self._seen and now - self._seen[node] <= self.timeout
            changed = self._pods.get(node) != table or not alive_before
            self._pods[node] = table
            self._seen[node] = now
            self._generation[node] = generation
        return changed

    def heartbeat(self, node: str, now: float) -> bool:
        """Record a heartbeat; True when it brings a silent node back."""
        with self._lock:
            if node not in self._pods:
                return False  # nothing known yet: wait for the snapshot
            was_alive = now - self._seen.get(node, float("-inf")) <= self.timeout
            self._seen[node] = now
        return not was_alive

    def seed(self, ready: Iterable[str]) -> None:
        """What the previous proxy process routed ("ns/pod@ip"), for nodes held before this
        process heard their agent."""
        table: Dict[PodKey, str] = {}
        for item in ready:
            namespace, name, ip = parse_endpoint_key(str(item))
            if namespace and name and ip:
                table[(namespace, name)] = ip
        with self._lock:
            self._seed = table

    def hold(self, node: str, now: float) -> bool:
        """The node's agent is alive but speaks plain HTTP (an older bundle): keep its last
        snapshot (else the seed) in force. True when that brings the node back."""
        with self._lock:
            if node not in self._pods:
                self._pods[node] = dict(self._seed)  # endpoints planned elsewhere never match
            was_alive = now - self._seen.get(node, float("-inf")) <= self.timeout
            self._seen[node] = now
        return not was_alive

    def forget(self, node: str) -> None:
        """A node left the cluster."""
        with self._lock:
            self._pods.pop(node, None)
            self._seen.pop(node, None)
            self._generation.pop(node, None)

    def alive(self, node: str, now: float) -> bool:
        with self._lock:
            seen = self._seen.get(node)
            return seen is not None and now - seen <= self.timeout

    def heard_from(self, node: str) -> bool:
        """Whether any snapshot from this node arrived since start (alive or not)."""
        with self._lock:
            return node in self._pods

    def ready(self, state: ClusterState, now: float) -> FrozenSet[Endpoint]:
        """The planned endpoints of every service that are ready right now."""
        with self._lock:
            alive = {n for n, seen in self._seen.items() if now - seen <= self.timeout}
            pods = {n: self._pods[n] for n in alive if n in self._pods}
        out = set()
        for service in state.services:
            for ep in service.endpoints:
                table = pods.get(ep.node)
                if table is not None and table.get((ep.namespace, ep.pod)) == ep.ip:
                    out.add(ep)
        return frozenset(out)

    def next_expiry(self, now: float) -> Optional[float]:
        """When the next live node would go silent-dead if nothing arrives (for the loop)."""
        with self._lock:
            times = [s + self.timeout for s in self._seen.values() if now - s <= self.timeout]
        return min(times) if times else None

    def describe(self, now: float) -> List[Dict[str, Any]]:
        """Per node: alive, seconds since last line, ready pods (for the status file)."""
        with self._lock:
            return [
                {
                    "node": n,
                    "alive": now - self._seen[n] <= self.timeout,
                    "silent_for": round(now - self._seen[n], 3),
                    "generation": self._generation.get(n, 0),
                    "ready_pods": len(self._pods.get(n, {})),
                }
                for n in sorted(self._seen)
            ]
