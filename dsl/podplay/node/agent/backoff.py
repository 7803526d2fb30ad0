"""Crash-loop backoff, as the kubelet does it: restart at once, then wait 10 s, 20 s, 40 s ...
up to 300 s; a container that ran 10 minutes before it exited starts the count again.

Pure: the agent keeps one `streak` (restarts since the last reset) per container and asks
here when the next restart is due. The delays are the node's one exponential backoff
(`podplay.node.util.backoff`); the policy adds what is the kubelet's own: configurable
bounds, no wait for the first restart, and the reset after a long run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from podplay.node.util.backoff import exponential_delay


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 10.0
    maximum: float = 300.0
    reset_after: float = 600.0

    def delay(self, streak: int) -> float:
        """Wait before the restart that follows `streak` restarts in a row (0 -> at once)."""
        return exponential_delay(streak, self.initial, self.maximum)

    def effective_streak(
        self, streak: int, started_at: Optional[float], finished_at: Optional[float]
    ) -> int:
        """The streak to use for a container that ran from `started_at` to `finished_at`."""
        ran = None if started_at is None or finished_at is None else finished_at - started_at
        if ran is not None and ran >= self.reset_after:
            return 0
        return streak

    def restart_due(
        self, streak: int, started_at: Optional[float], finished_at: Optional[float]
    ) -> float:
        """When an exited container may be restarted (a time on the same clock as its exit)."""
        base = finished_at if finished_at is not None else 0.0
        return base + self.delay(self.effective_streak(streak, started_at, finished_at))


DEFAULT_POLICY = BackoffPolicy()
