"""Crash-loop backoff: at once, then 10 s doubling to 300 s, reset after 10 minutes running."""

from __future__ import annotations

import pytest

from podplay.node.agent.backoff import BackoffPolicy

P = BackoffPolicy()


@pytest.mark.parametrize(
    ("streak", "delay"),
    [(0, 0), (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 300), (7, 300), (100, 300)],
)
def test_delay_doubles_from_10s_to_300s(streak: int, delay: float) -> None:
    assert P.delay(streak) == delay


def test_due_counts_from_the_exit() -> None:
    assert P.restart_due(2, started_at=1000.0, finished_at=1005.0) == 1025.0


def test_ten_minutes_of_running_resets_the_streak() -> None:
    assert P.restart_due(5, started_at=0.0, finished_at=600.0) == 600.0
    assert P.restart_due(5, started_at=0.0, finished_at=599.0) == 599.0 + 160


def test_policy_is_configurable() -> None:
    fast = BackoffPolicy(initial=1, maximum=4, reset_after=5)
    assert [fast.delay(n) for n in range(5)] == [0, 1, 2, 4, 4]
