"""Probe bookkeeping: which running containers are probed with what, when each probe runs,
and what the outcomes mean for readiness and for the decision (containers to kill).

The state machines are in `probes` (pure), the probe runs in `prober` (effectful, on a pool
of threads); this module keeps one `ContainerProbes` per running app container of a wanted
pod, hands due probes to the pool and feeds results back on the loop thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

from .board import EventLog
from .manifest import PodSpec, ProbeSpec
from .messages import Message, ProbeResult
from .observed import Observed, PodKey
from .prober import ExecProber, run_probe
from .probes import ContainerProbes

PROBE_THREADS = 8  # a burst of new pods probes each at once, and again every 0.1 s
Specs = Tuple[Optional[ProbeSpec], Optional[ProbeSpec], Optional[ProbeSpec]]


class Probing:
    """The probes of this node's running containers, keyed by container id."""

    def __init__(
        self,
        exec_prober: Optional[ExecProber],
        events: EventLog,
        post: Callable[[Message], None],
        clock: Callable[[], float],
        ready_hints: Optional[Mapping[str, bool]] = None,
    ) -> None:
        self.exec_prober = exec_prober
        self.events = events
        self.post = post
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="probe")
        self.probes: Dict[str, ContainerProbes] = {}
        self._ip: Dict[str, str] = {}
        self._specs: Dict[str, Specs] = {}
        # readiness remembered from the previous agent, used once per adopted container
        self._hints: Dict[str, bool] = dict(ready_hints or {})

    def sync(
        self, desired: Mapping[PodKey, PodSpec], observed: Sequence[Observed], now: float
    ) -> None:
        """One ContainerProbes per running app container of a wanted pod."""
        live = set()
        for o in observed:
            if not o.running or o.is_sandbox:
                continue
            spec = desired.get(o.key)
            if spec is None or spec.uid != o.uid:
                continue
            c = spec.container(o.container)
            if c is None or c.config_hash != o.config_hash:
                continue
            live.add(o.id)
            specs = (c.startup, c.liveness, c.readiness)
            if o.id not in self.probes or self._specs.get(o.id) != specs:
                hint = self._hints.pop(o.id, None)
                self.probes[o.id] = ContainerProbes(c, o.started_at or now, ready_hint=hint)
                self._specs[o.id] = specs
            self._ip[o.id] = spec.ip
        for cid in list(self.probes):
            if cid not in live:
                del self.probes[cid]
                self._specs.pop(cid, None)
                self._ip.pop(cid, None)

    def schedule(self, now: float) -> None:
        """Hand every probe that is due to the pool."""
        for cid, p in self.probes.items():
            for t in p.due(now):
                t.begin(now)
                self.pool.submit(self._run, cid, t.kind, t.spec, self._ip[cid])

    def _run(self, cid: str, kind: str, spec: ProbeSpec, ip: str) -> None:
        ok, message = run_probe(spec, ip, cid, self.exec_prober)
        self.post(ProbeResult(cid, kind, spec, ok, message))

    def record(self, result: ProbeResult, observed: Sequence[Observed]) -> bool:
        """Feed a probe outcome; True when it changed what the pod reports or needs."""
        p = self.probes.get(result.container_id)
        t = p.trackers.get(result.kind) if p is not None else None
        if t is None or t.spec != result.spec:
            return False  # the container or its probe is gone
        changed = t.record(result.ok, self.clock(), result.message)
        if not result.ok and (changed or t.failures == 1):
            o = next((o for o in observed if o.id == result.container_id), None)
            if o is not None:
                self.events.record(
                    o.namespace,
                    o.pod,
                    "Warning",
                    "Unhealthy",
                    "%s probe of %s failed: %s" % (result.kind, o.container, result.message),
                )
        return changed

    def ready_of(self, o: Observed) -> bool:
        p = self.probes.get(o.id)
        return p.ready if p is not None else False

    def readiness(self) -> Dict[str, bool]:
        """Container id -> ready, as the next agent should assume it until it probes."""
        return {cid: p.ready for cid, p in self.probes.items()}

    def kill_reasons(self) -> Dict[str, str]:
        """Containers whose liveness or startup probe failed: id -> why."""
        reasons = {cid: p.kill_reason() for cid, p in self.probes.items()}
        return {cid: why for cid, why in reasons.items() if why}

    def next_due(self) -> Optional[float]:
        """When the next probe is due (None: none is)."""
        times = [t for t in (p.next_due() for p in self.probes.values()) if t is not None]
        return min(times) if times else None

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False)
