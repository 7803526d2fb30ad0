"""Exponential backoff, the one formula every retry on the node uses: `initial` after the
first failure, doubling after each further one, never more than `maximum`.

Pure (no clock, no sleep): callers add the delay to their own clock, so tests drive it with
a fake one.
"""

from __future__ import annotations


def exponential_delay(failures: int, initial: float, maximum: float) -> float:
    """The wait after `failures` failures in a row: 0 for none, `initial` for the first,
    doubling up to `maximum`."""
    if failures <= 0:
        return 0.0
    return min(initial * (2 ** min(failures - 1, 32)), maximum)


class Backoff:
    """Failures in a row of one thing that is retried (a sync, a connection): `failed()`
    counts one and says how long to wait; `succeeded()` starts again from `initial`."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def failed(self) -> float:
        """Count one more failure; the delay before the next attempt."""
        self.failures += 1
        return exponential_delay(self.failures, self.initial, self.maximum)

    def succeeded(self) -> None:
        self.failures = 0
