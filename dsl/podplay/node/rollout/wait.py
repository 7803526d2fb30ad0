"""Whether this node's part of a rollout step holds, and the loop that waits for it (pure
decisions; what is seen comes from a `Look`, time from a clock the tests drive).

Whether a pod is ready (and why not) and whether endpoints are routed are the node
contract's decisions (`podplay.node.contract.pod_status`, `proxy_status`), the same that
`podplay up`'s wait makes over every node; this module applies them to one node's part."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from podplay.node.contract import proxy_status
from podplay.node.contract.pod_status import not_ready
from podplay.node.contract.rollout import WaitSpec, parse_pod_key

POLL = 0.1  # a local read of the agent and the proxy status: cheap; every stage waits on it

Pods = Optional[List[Dict[str, Any]]]  # the local agent's pod statuses; None: it did not answer
Proxy = Optional[Dict[str, Any]]  # the local proxy's status; None: not readable


@dataclass
class Look:
    """Where this node's live state comes from (replaced by fakes in tests)."""

    pods: Callable[[], Tuple[Pods, str]]  # (statuses or None, why not)
    proxy: Callable[[], Proxy]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Outcome:
    """What the wait saw: done, or why not (a failure message); warnings either way."""

    ok: bool
    waited: float
    msg: str = ""
    warnings: List[str] = field(default_factory=list)
    unrouted_at: Optional[float] = None  # when this node stopped routing `unrouted` (clock)


def routes_here(spec: WaitSpec, node: str) -> bool:
    """This node's routing counts (it is a Ready node of the plan)."""
    return node in spec.routing_nodes


def still_routed(spec: WaitSpec, node: str, proxy: Proxy) -> List[str]:
    """Endpoints to drain that this node still routes (all of them when it cannot say)."""
    if not spec.unrouted or not routes_here(spec, node):
        return []
    return proxy_status.still_routed(spec.unrouted, [node], {node: proxy}).get(node, [])


def not_yet(spec: WaitSpec, node: str, pods: Pods, why: str, proxy: Proxy) -> List[str]:
    """What still keeps the step from being done here, one short reason each ([]: done)."""
    out: List[str] = []
    if spec.stopped or any(p.node == node for p in spec.ready):
        if pods is None:
            return ["the agent on %s does not answer (%s)" % (node, why)]
        # who is still reported (names only, whatever else a status holds)
        reported = {(p.get("namespace"), p.get("name")) for p in pods if isinstance(p, dict)}
        running = [k for k in spec.stopped if parse_pod_key(k) in reported]
        out += ["%s still running on %s" % (k, node) for k in running]
        held = not_ready(pods, [p for p in spec.ready if p.node == node])
        out += ["%s/%s on %s: %s" % (ns, name, node, r) for (ns, name), r in held.items()]
    if spec.routed and routes_here(spec, node):
        missing = proxy_status.not_routed(spec.routed, [node], {node: proxy}).get(node, [])
        out += ["%s: not yet routed on %s" % (e, node) for e in missing]
    return out


def drain(spec: WaitSpec, node: str, look: Look) -> List[str]:
    """Until this node routes none of `spec.unrouted` (at most `drain_timeout`: then a
    warning, as `podplay up` always did); the settle is the caller's (`settle_since`)."""
    if not spec.unrouted or not routes_here(spec, node):
        return []
    deadline = look.clock() + spec.drain_timeout
    warnings: List[str] = []
    while True:
        left = still_routed(spec, node, look.proxy())
        if not left:
            break
        if look.clock() >= deadline:
            warnings.append(
                "routing on %s still lists %s after %.0f s; removing the pods anyway"
                % (node, ", ".join(left), spec.drain_timeout)
            )
            break
        look.sleep(POLL)
    return warnings


def settle_since(unrouted_at: float, seconds: float, look: Look) -> None:
    """Until `seconds` have passed since the drained endpoints left routing here (requests
    in flight end), however long the rest of the wait took meanwhile."""
    left = seconds - (look.clock() - unrouted_at)
    if left > 0:
        look.sleep(left)


def wait(spec: WaitSpec, node: str, look: Look, settle: bool = True) -> Outcome:
    """Drain first, then until old pods are stopped and new ones ready and routed here,
    then the rest of the settle (it runs while new pods start; `settle=False`: the caller
    settles later, after a second drain: one settle for both); a failed Outcome naming
    what is missing after `spec.timeout`."""
    started = look.clock()
    warnings = drain(spec, node, look)
    drained = bool(spec.unrouted) and routes_here(spec, node)
    unrouted_at = look.clock() if drained else None
    deadline = look.clock() + spec.timeout
    while True:
        pods, why = look.pods()
        left = not_yet(spec, node, pods, why, look.proxy())
        if not left:
            if settle and unrouted_at is not None:
                settle_since(unrouted_at, spec.settle, look)
            return Outcome(True, look.clock() - started, warnings=warnings, unrouted_at=unrouted_at)
        if look.clock() >= deadline:
            shown = "; ".join(left[:4]) + (" ..." if len(left) > 4 else "")
            msg = (
                "not available after %.0f s on %s: %s (pods that were serving keep serving: "
                "fix the program, or the cause, and run `podplay up` again to carry on from "
                "here)" % (spec.timeout, node, shown)
            )
            return Outcome(False, look.clock() - started, msg, warnings)
        look.sleep(POLL)
