"""Backoff, the one way every retry on the node waits: exponential (`initial` after the
first failure, doubling after each further one, never more than `maximum`), or, where a few
fixed steps serve better (the store client's reconnects, the store mirror's retries), a table
of delays whose last one repeats.

Pure (no clock, no sleep): callers add the delay to their own clock, so tests drive it with
a fake one.
"""

from __future__ import annotations

from typing import Sequence, Tuple


def exponential_delay(failures: int, initial: float, maximum: float) -> float:
    """The wait after `failures` failures in a row: 0 for none, `initial` for the first,
    doubling up to `maximum`."""
    if failures <= 0:
        return 0.0
    return min(initial * (2 ** min(failures - 1, 32)), maximum)


def stepped_delay(failures: int, steps: Sequence[float]) -> float:
    """The wait after `failures` failures in a row from a table: 0 for none, `steps[0]` for
    the first, the next step for each further one, then the last step again."""
    if failures <= 0 or not steps:
        return 0.0
    return steps[min(failures, len(steps)) - 1]


class Backoff:
    """Failures in a row of one thing that is retried (a sync, a connection): `failed()`
    counts one and says how long to wait; `succeeded()` starts again from the first delay."""

    def __init__(self, initial: float, maximum: float, steps: Sequence[float] = ()) -> None:
        self.initial = initial
        self.maximum = maximum
        self.steps: Tuple[float, ...] = tuple(steps)
        self.failures = 0

    @classmethod
    def stepped(cls, steps: Sequence[float]) -> Backoff:
        """A backoff that waits `steps[0]`, `steps[1]`, ... and then the last step."""
        return cls(steps[0], steps[-1], steps)

    def failed(self) -> float:
        """Count one more failure; the delay before the next attempt."""
        self.failures += 1
        if self.steps:
            return stepped_delay(self.failures, self.steps)
        return exponential_delay(self.failures, self.initial, self.maximum)

    def succeeded(self) -> None:
        self.failures = 0
