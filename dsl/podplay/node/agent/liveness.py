"""Whether what the agent publishes can still be vouched for.

Pod readiness on the board is only as fresh as the last pass of the loop that looks at the
engine. When that loop is stuck (a read that blocks, an engine call that hangs), the API
would keep serving the last statuses and heartbeats, and every node would keep routing to
containers that may be long dead. So the loop stamps each pass (`LoopWatch.begin/end`), and a
watchdog thread marks every pod unready on the board once a pass has run `STALL_SECONDS`
without ending; the next pass that ends publishes the real statuses again.

And when the node itself is going down (systemd is stopping; the agent is stopped before
the engine, which then stops every pod), the agent marks every pod unready before it exits
and lingers `DRAIN_SECONDS`, so the other nodes stop routing to them before they stop.
A plain restart of the agent does neither: pods keep running and stay ready.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Callable, Optional

from .board import StatusBoard

STALL_SECONDS = 5.0
WATCHDOG_INTERVAL = 0.5
DRAIN_SECONDS = 1.0


class LoopWatch:
    """The loop's pass in progress (since when), and whether the watchdog gave up on it."""

    def __init__(
        self, stall: float = STALL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stall = stall
        self.clock = clock
        self._lock = threading.Lock()
        self._since: Optional[float] = None
        self._marked = False

    def begin(self) -> None:
        """Loop thread: a pass starts."""
        with self._lock:
            self._since = self.clock()

    def end(self) -> bool:
        """Loop thread: the pass ended. True when the watchdog marked the board unready
        meanwhile (the loop must then run a pass that publishes the real statuses)."""
        with self._lock:
            self._since = None
            marked, self._marked = self._marked, False
            return marked

    def stalled_for(self) -> Optional[float]:
        """Seconds the current pass has run, when that is `stall` or more; else None."""
        with self._lock:
            if self._since is None:
                return None
            age = self.clock() - self._since
            return age if age >= self.stall else None

    def check(self, board: StatusBoard) -> bool:
        """Watchdog: mark every pod unready once per stuck pass; True when it did now."""
        with self._lock:
            if self._since is None or self._marked:
                return False
            age = self.clock() - self._since
            if age < self.stall:
                return False
            self._marked = True
            board.mark_unready(
                "the agent's reconcile loop is stuck (a pass has run %.0f s); no pod of this "
                "node is vouched for until it ends" % age
            )
            return True


def watchdog(watch: LoopWatch, board: StatusBoard, stopping: threading.Event) -> None:
    """Thread: check the loop every `WATCHDOG_INTERVAL` seconds until stopping."""
    while not stopping.wait(WATCHDOG_INTERVAL):
        watch.check(board)


def system_stopping() -> bool:
    """Whether systemd is taking the node down (the engine and every pod stop next)."""
    try:
        done = subprocess.run(
            ["systemctl", "is-system-running"], capture_output=True, text=True, timeout=2
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.stdout.strip() == "stopping"
