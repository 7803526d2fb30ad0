"""Probe state machines (liveness, readiness, startup) with Kubernetes semantics.

Pure: the agent asks `due(now)`, runs the probe elsewhere (`prober`), and feeds the outcome
to `record(ok, now)`. Times are plain floats, so tests drive them with a fake clock.

- startup: runs first; liveness and readiness wait until it succeeds; `failure_threshold`
  failures in a row -> the container is killed (and restarted by its restart policy).
- liveness: healthy until `failure_threshold` failures in a row -> killed.
- readiness: not ready until `success_threshold` successes in a row; not ready again after
  `failure_threshold` failures in a row. Until its first success, a failed readiness probe
  is retried after `WARMUP_RETRY` seconds rather than a whole period: a new pod is ready as
  soon as it serves (the kubelet gets the same effect by probing only after its relist has
  seen the container running, about a second after start). Nothing else changes: the pod
  was not ready anyway, so no threshold is shortened.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .manifest import ContainerSpec, ProbeSpec

STARTUP = "startup"
LIVENESS = "liveness"
READINESS = "readiness"
WARMUP_RETRY = 0.1


class ProbeTracker:
    """One probe of one running container."""

    def __init__(self, kind: str, spec: ProbeSpec, started_at: float) -> None:
        self.kind = kind
        self.spec = spec
        # liveness starts healthy, readiness starts unready, startup starts unknown
        self.result: Optional[bool] = {LIVENESS: True, READINESS: False}.get(kind)
        self.successes = 0
        self.failures = 0
        self.next_due = started_at + spec.initial_delay
        self.in_flight = False
        self.last_message = ""
        self.ever_succeeded = False

    def due(self, now: float) -> bool:
        return not self.in_flight and now >= self.next_due

    def begin(self, now: float) -> None:
        """A probe run starts now; the next one is due one period later."""
        self.in_flight = True
        self.next_due = now + self.spec.period

    def record(self, ok: bool, now: float, message: str = "") -> bool:
        """Feed one outcome; True when `result` changed."""
        self.in_flight = False
        if now + self.spec.period < self.next_due:
            self.next_due = now + self.spec.period
        if not ok and self.kind == READINESS and not self.ever_succeeded:
            self.next_due = min(self.next_due, now + min(WARMUP_RETRY, self.spec.period))
        self.ever_succeeded = self.ever_succeeded or ok
        self.last_message = message
        before = self.result
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= self.spec.success_threshold:
                self.result = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= self.spec.failure_threshold:
                self.result = False
        return self.result != before


class ContainerProbes:
    """The probes of one running container (identified by its container id)."""

    def __init__(
        self,
        container: ContainerSpec,
        started_at: float,
        ready_hint: Optional[bool] = None,
    ) -> None:
        self.trackers: Dict[str, ProbeTracker] = {}
        for kind in (STARTUP, LIVENESS, READINESS):
            spec = getattr(container, kind)
            if spec is not None:
                self.trackers[kind] = ProbeTracker(kind, spec, started_at)
        # An adopted container keeps the readiness it had before the agent restarted, so a
        # restart of the agent does not flap endpoints; the next probe confirms or corrects it.
        if ready_hint and READINESS in self.trackers and STARTUP not in self.trackers:
            self.trackers[READINESS].result = True
        if ready_hint and STARTUP in self.trackers:
            self.trackers[STARTUP].result = True
            if READINESS in self.trackers:
                self.trackers[READINESS].result = True

    @property
    def started(self) -> bool:
        """The startup probe has succeeded (or there is none)."""
        t = self.trackers.get(STARTUP)
        return t is None or t.result is True

    @property
    def ready(self) -> bool:
        """Readiness as the pod status reports it (a running container)."""
        if not self.started:
            return False
        t = self.trackers.get(READINESS)
        return t is None or t.result is True

    def kill_reason(self) -> Optional[str]:
        """Why this container must be killed now, or None."""
        t = self.trackers.get(STARTUP)
        if t is not None and t.result is False:
            return "startup probe failed: %s" % (t.last_message or "no success in time")
        t = self.trackers.get(LIVENESS)
        if t is not None and t.result is False:
            return "liveness probe failed: %s" % (t.last_message or "failed")
        return None

    def due(self, now: float) -> List[ProbeTracker]:
        """Probes to run now: the startup probe alone until it succeeds, then the others."""
        startup = self.trackers.get(STARTUP)
        if startup is not None and startup.result is not True:
            return [startup] if startup.due(now) else []
        return [t for k, t in self.trackers.items() if k != STARTUP and t.due(now)]

    def next_due(self) -> Optional[float]:
        startup = self.trackers.get(STARTUP)
        if startup is not None and startup.result is not True:
            return None if startup.in_flight else startup.next_due
        times = [t.next_due for k, t in self.trackers.items() if k != STARTUP and not t.in_flight]
        return min(times) if times else None

    def snapshot(self) -> Tuple[bool, Optional[str]]:
        return (self.ready, self.kill_reason())
