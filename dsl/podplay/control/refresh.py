"""`up`'s refresh (as `pulumi refresh` does): before planning, what the cluster's store says.

    view = store_view(applied, target, reporter)    # None: no store yet, or it does not answer
    plans, moves = refresh_plans([applied, ...], view)   # the controller's moves written in
    target = target.with_not_ready(lease_not_ready(view, applied))

The controller moves a dead node's pods and records the moves in the store; the stack's
state still has them where the last `up` put them. Planning against the refreshed plans
keeps the moved pods where they are (an unchanged program plans no pod changes) and shows
them at their new nodes in `preview`. A node whose lease is gone from a reachable store is
NotReady: the planner goes around it, as the controller does. No store reachable: one
warning, and the plan is made from the state as it is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from podplay.control.cluster_store import StoreUnavailable, StoreView, access_for_plan, read_view
from podplay.control.reporter import Reporter
from podplay.control.target import NotReady, Target
from podplay.plan import Plan
from podplay.plan.refresh import Move, apply_moves


def store_view(applied: Plan | None, target: Target, reporter: Reporter) -> StoreView | None:
    """The store of the cluster `applied` went to, read now; None (and a warning when it
    should have answered) otherwise."""
    if not target.exists:
        return None
    access = access_for_plan(applied, target.pki_dir)
    if access is None:
        return None
    try:
        view = read_view(access)
    except StoreUnavailable as err:
        reporter.warn(
            f"{err}: planning from the stack's state (pods the cluster's controller moved "
            "and nodes whose lease expired are not known)"
        )
        return None
    for problem in view.unreadable:
        reporter.warn(f"the store holds a record podplay cannot read, ignored: {problem}")
    return view


def refresh_plans(
    plans: Sequence[Plan | None], view: StoreView | None, reporter: Reporter | None = None
) -> tuple[list[Plan | None], list[Move]]:
    """Each plan with the controller's moves written in, and the first plan's moves."""
    if view is None:
        return list(plans), []
    out: list[Plan | None] = []
    moves: list[Move] = []
    told = False
    for p in plans:
        if p is None:
            out.append(None)
            continue
        done = apply_moves(p, view.bindings.values(), view.cursors)
        out.append(done.plan)
        if not told:  # the first plan's moves and problems (the others repeat them)
            told, moves = True, done.moves
            for problem in done.ignored:
                if reporter is not None:
                    reporter.warn(problem)
    return out, moves


def lease_not_ready(
    view: StoreView | None, applied: Plan | None, now: float | None = None
) -> list[NotReady]:
    """Nodes of the applied plan whose agent's lease is gone from the store."""
    if view is None or applied is None:
        return []
    out = []
    for node in applied.nodes:
        if view.lease_gone(node.name):
            out.append(NotReady(node.name, lease_reason(view, node.name, now)))
    return out


def lease_reason(view: StoreView, node: str, now: float | None = None) -> str:
    """`its lease in the store expired 12 s ago` (when the leader noted it), else without."""
    since = view.not_ready_since(node)
    if since is None:
        return "its lease in the store expired"
    ago = max(0.0, (now if now is not None else time.time()) - since)
    return f"its lease in the store expired {ago:.0f} s ago"
