"""Probe state machines driven by a fake clock: no sleeping."""

from __future__ import annotations

from podplay.node.agent.manifest import ContainerSpec, ProbeSpec
from podplay.node.agent.probes import LIVENESS, READINESS, STARTUP, ContainerProbes, ProbeTracker


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def advance(self, dt: float) -> float:
        self.t += dt
        return self.t


def run_until(tracker: ProbeTracker, clock: Clock, outcomes: list[bool]) -> list[float]:
    """Feed outcomes at each due time; returns the times the probes ran."""
    times = []
    for ok in outcomes:
        clock.t = max(clock.t, tracker.next_due)
        assert tracker.due(clock.t)
        tracker.begin(clock.t)
        assert not tracker.due(clock.t)  # one at a time
        tracker.record(ok, clock.t)
        times.append(clock.t)
    return times


def probe(**kw) -> ProbeSpec:
    return ProbeSpec(type="tcp", port=80, **kw)


def test_initial_delay_then_every_period() -> None:
    clock = Clock()
    t = ProbeTracker(READINESS, probe(initial_delay=5, period=2), started_at=clock.t)
    assert not t.due(clock.t + 4.9)
    times = run_until(t, clock, [True, True, True])
    assert times == [1005.0, 1007.0, 1009.0]


def test_readiness_starts_unready_and_needs_success_threshold() -> None:
    clock = Clock()
    t = ProbeTracker(READINESS, probe(success_threshold=2), started_at=clock.t)
    assert t.result is False
    run_until(t, clock, [True])
    assert t.result is False
    run_until(t, clock, [True])
    assert t.result is True


def test_readiness_goes_unready_after_failure_threshold_failures() -> None:
    clock = Clock()
    t = ProbeTracker(READINESS, probe(period=1, failure_threshold=3), started_at=clock.t)
    run_until(t, clock, [True])
    first_fail = clock.t + 1
    run_until(t, clock, [False, False])
    assert t.result is True  # two failures are not enough
    run_until(t, clock, [False])
    assert t.result is False
    # within period x threshold of the first failed probe
    assert clock.t - first_fail <= 1 * 3


def test_a_success_resets_the_failure_count() -> None:
    clock = Clock()
    t = ProbeTracker(LIVENESS, probe(failure_threshold=2), started_at=clock.t)
    run_until(t, clock, [False, True, False, True, False])
    assert t.result is True


def test_liveness_starts_healthy() -> None:
    t = ProbeTracker(LIVENESS, probe(), started_at=0)
    assert t.result is True


def test_a_slow_probe_does_not_overlap_and_the_next_follows_a_period_after_start() -> None:
    clock = Clock()
    t = ProbeTracker(LIVENESS, probe(period=10, timeout=1), started_at=clock.t)
    t.begin(clock.t)
    assert not t.due(clock.advance(30))  # still running
    t.record(False, clock.t)
    assert t.due(clock.t)  # overdue: right away, not 10 s later


def container(**probes) -> ContainerSpec:
    return ContainerSpec(name="c", image="i", **probes)


def test_no_probes_means_ready_and_never_killed() -> None:
    p = ContainerProbes(container(), started_at=0)
    assert p.ready and p.kill_reason() is None and p.due(10**6) == [] and p.next_due() is None


def test_startup_gates_the_others_and_failure_kills() -> None:
    clock = Clock()
    c = container(
        startup=probe(period=1, failure_threshold=2),
        liveness=probe(period=1),
        readiness=probe(period=1),
    )
    p = ContainerProbes(c, started_at=clock.t)
    due = p.due(clock.t)
    assert [t.kind for t in due] == [STARTUP]
    assert not p.ready
    for _ in range(2):
        clock.t = max(clock.t, p.next_due())
        (t,) = p.due(clock.t)
        t.begin(clock.t)
        t.record(False, clock.t, "connection refused")
    assert p.kill_reason() == "startup probe failed: connection refused"


def test_after_startup_succeeds_liveness_and_readiness_run() -> None:
    clock = Clock()
    c = container(startup=probe(period=1), liveness=probe(period=5), readiness=probe(period=2))
    p = ContainerProbes(c, started_at=clock.t)
    (t,) = p.due(clock.t)
    t.begin(clock.t)
    t.record(True, clock.t)
    assert p.started and not p.ready  # readiness not yet probed
    kinds = sorted(t.kind for t in p.due(clock.t))
    assert kinds == [LIVENESS, READINESS]
    for t in p.due(clock.t):
        t.begin(clock.t)
        t.record(True, clock.t)
    assert p.ready
    assert p.next_due() == clock.t + 2


def test_liveness_failures_ask_for_a_kill() -> None:
    clock = Clock()
    p = ContainerProbes(container(liveness=probe(period=1, failure_threshold=3)), clock.t)
    for _ in range(3):
        assert p.kill_reason() is None
        clock.t = p.next_due()
        (t,) = p.due(clock.t)
        t.begin(clock.t)
        t.record(False, clock.t, "HTTP 500")
    assert p.kill_reason() == "liveness probe failed: HTTP 500"


def test_adopted_container_keeps_its_readiness_until_a_probe_says_otherwise() -> None:
    c = container(readiness=probe(period=1, failure_threshold=1))
    p = ContainerProbes(c, started_at=0, ready_hint=True)
    assert p.ready
    (t,) = p.due(5000)
    t.begin(5000)
    t.record(False, 5000)
    assert not p.ready
    assert not ContainerProbes(c, started_at=0, ready_hint=None).ready


def test_a_new_readiness_probe_retries_quickly_until_its_first_success() -> None:
    clock = Clock()
    t = ProbeTracker(READINESS, probe(period=10), started_at=clock.t)
    t.begin(clock.t)
    t.record(False, clock.t)  # not listening yet
    assert t.next_due == clock.t + 0.1
    clock.advance(0.1)
    t.begin(clock.t)
    t.record(True, clock.t)
    assert t.result is True and t.next_due == clock.t + 10
    clock.advance(10)
    t.begin(clock.t)
    t.record(False, clock.t)  # after a success: the normal period again
    assert t.next_due == clock.t + 10


def test_liveness_and_startup_keep_their_period() -> None:
    for kind in (LIVENESS, STARTUP):
        t = ProbeTracker(kind, probe(period=10), started_at=0)
        t.begin(0)
        t.record(False, 0)
        assert t.next_due == 10
