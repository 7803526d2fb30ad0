"""A rolling update's stages overlap as Kubernetes' RollingUpdate does: old pods leave routing
while the next new ones start (terminating pods do not count toward max_surge) and stop a
stage later. Checked as properties over the stages of every surge/unavailable variant:
availability never below `replicas - max_unavailable` pods routed and ready, pods that are
not terminating never above `replicas + max_surge`, nothing unbound that some node may
still route to; and `in_flight` covers every pod a stopped run may leave running."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from plan_builders import replan, web_program

import podplay as pp
from podplay.plan import Plan, stages
from podplay.plan.rollout import in_flight, stage_steps


def routed(p: Plan) -> set[str]:
    return {e.pod for s in p.services for e in s.endpoints}


def bound(p: Plan) -> set[str]:
    return {x.name for x in p.pods}


def rolled(replicas: int, surge: int, unavailable: int) -> tuple[Plan, Plan, list[Plan]]:
    strategy = pp.RollingUpdate(max_surge=surge, max_unavailable=unavailable)
    before = replan(web_program(replicas, strategy=strategy))
    after = replan(web_program(replicas, strategy=strategy, env={"V": "2"}), before)
    return before, after, stages(before, after)


variants = st.tuples(st.integers(1, 7), st.integers(0, 3), st.integers(0, 3)).filter(
    lambda v: v[1] + v[2] > 0
)


@settings(max_examples=120, deadline=None)
@given(variants)
def test_every_stage_keeps_availability_and_surge_and_drains_before_unbinding(
    variant: tuple[int, int, int],
) -> None:
    replicas, surge, unavailable = variant
    before, after, plans = rolled(replicas, surge, unavailable)
    assert bound(plans[0]) == bound(before) and plans[-1] == after
    assert len(plans) == len(stage_steps(after)) + 1
    for prev, now in pairwise(plans):
        # during the stage: what was routed (and waited ready) before and stays routed
        # serves throughout; new pods are starting, drained ones terminating
        serving = routed(prev) & routed(now)
        assert len(serving) >= replicas - unavailable, (variant, serving)
        # routed = not terminating (bound and starting or serving)
        assert len(routed(now)) <= replicas + surge, (variant, routed(now))
        # a pod is unbound once no node routes to it: it left routing a stage before; or,
        # the last old pods (no new pod left to start), drained on the nodes first
        unrouted_first = (bound(prev) - bound(now)) & routed(prev)
        assert not unrouted_first or not bound(now) - bound(prev), variant
        assert not unrouted_first or bound(now) == bound(after), variant
        # new pods start only where they are routed (waited for ready and routed)
        assert (bound(now) - bound(prev)) <= routed(now), variant


@settings(max_examples=60, deadline=None)
@given(variants)
def test_old_pods_leave_routing_in_the_stage_that_starts_the_next_new_ones(
    variant: tuple[int, int, int],
) -> None:
    """Kubernetes' overlap: no stage only drains while new pods are still to start, and
    every stage but the first and the last two starts or drains something."""
    replicas, surge, unavailable = variant
    _, after, plans = rolled(replicas, surge, unavailable)
    pairs = list(pairwise(plans))
    for k, (prev, now) in enumerate(pairs):
        starts = bound(now) - bound(prev)
        drains = routed(prev) - routed(now)
        to_start = bound(after) - bound(now)
        if drains and not starts:
            assert not to_start, (variant, k)  # the drain-only stage is the last drain
        assert starts or drains or k == len(pairs) - 1, (variant, k)


def test_one_replica_at_a_time_overlaps_drain_and_start() -> None:
    """3 replicas, max_surge 1, max_unavailable 0: start b1; drain a1 while b2 starts;
    unbind a1, drain a2 while b3 starts; unbind a2 and a3 (a3 drained first, on the nodes:
    the rollout playbook does it at the end of each node's call of the stage before)."""
    before, after, plans = rolled(3, 1, 0)
    old = [p.name for p in sorted(before.pods, key=lambda p: p.serial)]
    new = [p.name for p in sorted(after.pods, key=lambda p: p.serial)]
    assert [sorted(bound(p)) for p in plans] == [
        sorted(old),
        sorted([*old, new[0]]),
        sorted([*old, new[0], new[1]]),
        sorted([old[1], old[2], *new]),
        sorted(new),
    ]
    assert [sorted(routed(p)) for p in plans[1:]] == [
        sorted([*old, new[0]]),
        sorted([old[1], old[2], new[0], new[1]]),
        sorted([old[2], *new]),
        sorted(new),
    ]
    assert stage_steps(after) == [[0], [1, 2], [3, 4], [5]]


def test_recreate_stages_are_as_before() -> None:
    strategy = pp.Recreate()
    before = replan(web_program(3, strategy=strategy))
    after = replan(web_program(3, strategy=strategy, env={"V": "2"}), before)
    plans = stages(before, after)
    assert stage_steps(after) == [[0], [1]]
    assert [len(p.pods) for p in plans] == [3, 0, 3]
    assert routed(plans[0]) == bound(before) and routed(plans[2]) == bound(after)


@settings(max_examples=60, deadline=None)
@given(variants)
def test_in_flight_covers_every_pod_a_stopped_run_may_leave_running(
    variant: tuple[int, int, int],
) -> None:
    """A run stopped at stage i: the nodes run what stage i binds or what stage i-1 did
    (its table written or not yet), draining pods included; routing may be either's."""
    replicas, surge, unavailable = variant
    before, after, plans = rolled(replicas, surge, unavailable)
    for i, here in enumerate(plans):
        there = plans[i - 1] if i else before
        flight = in_flight(before, after, i)
        assert bound(flight) == bound(here) | bound(there), (variant, i)
        assert routed(flight) == routed(here) | routed(there), (variant, i)
        assert flight.rollout == []
