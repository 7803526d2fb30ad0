"""Polling the cluster until a plan (or part of it) is true: pods ready, routing in place,
endpoints drained, pods gone.

The decisions are pure (`podplay.control.progress`, and under it the node contract's
`pod_status` and `proxy_status`: the ones `rollout step` makes on a node); this module only
asks the agents (their API, in parallel) and the proxies (their status file, over SSH) again
and again. The clock and the sleep are parameters of the `Probe` so tests drive time without
sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from podplay.control import nodeshell
from podplay.control.agent_client import ClusterAccess, access_from_inventory, all_pods
from podplay.control.progress import DeploymentProgress, progress
from podplay.control.reporter import Reporter
from podplay.errors import EnvironmentProblem
from podplay.node.contract.proxy_status import still_routed
from podplay.plan import Plan
from podplay.plan.rollout import PodKey, routed_pods

POLL = 0.3
DRAIN_TIMEOUT = 20.0
DRAIN_SETTLE = 1.0  # requests already in flight to a drained pod finish before it stops
STOPPING_POLL = 0.5


@dataclass
class Probe:
    """Where live state comes from; replaced by fakes in unit tests."""

    access: ClusterAccess | None
    pods: Callable[[], tuple[list[dict[str, Any]], list[str]]] | None = None
    proxies: Callable[[Plan], dict[str, dict[str, Any] | None]] | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _unreachable: list[str] = field(default_factory=list)

    def reported_pods(self) -> list[dict[str, Any]]:
        if self.pods is not None:
            found, problems = self.pods()
        else:
            assert self.access is not None
            found, problems = all_pods(self.access)
        self._unreachable = problems
        return found

    @property
    def unreachable(self) -> list[str]:
        """The agents the last `reported_pods` could not ask, one sentence each."""
        return list(self._unreachable)

    def proxy_statuses(self, plan: Plan) -> dict[str, dict[str, Any] | None]:
        """The proxy status of every Ready node of `plan` (NotReady ones are not asked)."""
        if self.proxies is not None:
            return self.proxies(plan)
        return nodeshell.proxy_statuses(plan.ready_nodes())

    def only(self, nodes: Iterable[str]) -> Probe:
        """The same probe asking only the agents of `nodes` (a node that is down would cost
        a timeout on every poll)."""
        if self.access is None:
            return self
        wanted = set(nodes)
        kept = tuple(n for n in self.access.nodes if n.name in wanted)
        return replace(self, access=replace(self.access, nodes=kept))


def probe_cluster(inventory: Path, cluster: str) -> Probe:
    """The live state of the cluster whose nodes `inventory` lists (agents and proxies)."""
    return Probe(access=access_from_inventory(inventory, cluster))


def wait_available(
    plan: Plan,
    probe: Probe,
    reporter: Reporter,
    *,
    title: str,
    timeout: float,
    only: set[PodKey] | None = None,
) -> list[DeploymentProgress]:
    """Until every (or every `only`) pod is ready where planned and routed on every node."""
    needs_routing = bool(routed_pods(plan) if only is None else routed_pods(plan) & only)
    deadline = probe.clock() + timeout
    try:
        while True:
            reported = probe.reported_pods()
            proxies = probe.proxy_statuses(plan) if needs_routing else None
            rows = progress(plan, reported, proxies, only)
            reporter.progress(title, rows)
            if all(r.available for r in rows):
                return rows
            if probe.clock() >= deadline:
                raise EnvironmentProblem(_timeout_message(rows, timeout, probe.unreachable))
            probe.sleep(POLL)
    finally:
        reporter.progress_done()


def wait_unrouted(
    plan: Plan, endpoints: Iterable[str], probe: Probe, reporter: Reporter, *, timeout: float
) -> bool:
    """Until no node routes to `endpoints` (`ns/pod@ip`); False (and a warning) on timeout."""
    wanted = sorted(set(endpoints))
    if not wanted:
        return True
    nodes = [n.name for n in plan.ready_nodes()]
    deadline = probe.clock() + timeout
    while True:
        left = still_routed(wanted, nodes, probe.proxy_statuses(plan))
        if not left:
            return True
        if probe.clock() >= deadline:
            where = "; ".join(f"{node}: {', '.join(eps)}" for node, eps in sorted(left.items()))
            reporter.warn(
                f"routing still lists endpoints after {timeout:.0f} s ({where}); "
                "removing the pods anyway"
            )
            return False
        probe.sleep(POLL)


def wait_drained(plan: Plan, endpoints: Iterable[str], probe: Probe, reporter: Reporter) -> None:
    """Until no node routes to `endpoints` (at most DRAIN_TIMEOUT, then a warning), and a
    moment more for the requests already in flight to them."""
    wait_unrouted(plan, endpoints, probe, reporter, timeout=DRAIN_TIMEOUT)
    probe.sleep(DRAIN_SETTLE)


def wait_no_pods(probe: Probe, reporter: Reporter, timeout: float) -> None:
    """Until no agent reports a pod (their containers stopped); a warning on timeout."""
    deadline = probe.clock() + timeout
    told = False
    while True:
        pods = probe.reported_pods()
        if not pods:
            for problem in probe.unreachable:
                reporter.warn(problem)
            return
        if not told:
            told = True
            reporter.info(
                f"waiting for {len(pods)} pod(s) to stop (a container that ignores SIGTERM "
                "is killed after its grace period, 30 s unless the Deployment says otherwise)"
            )
        if probe.clock() >= deadline:
            names = ", ".join(sorted(p["name"] for p in pods)[:5])
            reporter.warn(f"pods still stopping after {timeout:.0f} s: {names}")
            return
        probe.sleep(STOPPING_POLL)


def _timeout_message(rows: list[DeploymentProgress], timeout: float, unreachable: list[str]) -> str:
    behind = [r for r in rows if not r.available]
    parts = []
    for r in behind:
        detail = "; ".join(r.waiting[:3]) + (" ..." if len(r.waiting) > 3 else "")
        parts.append(
            f"deployment {r.namespace}/{r.name}: {r.ready}/{r.desired} ready, "
            f"{r.routed}/{r.desired} routed ({detail})"
        )
    if unreachable:
        parts.append("unreachable: " + "; ".join(unreachable))
    return (
        f"not available after {timeout:.0f} s: "
        + " | ".join(parts)
        + " (`podplay describe pod NAME` says more; pods that were serving keep serving: fix "
        "the program, or the cause, and run `podplay up` again to carry on from here)"
    )
