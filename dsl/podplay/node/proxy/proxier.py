"""The proxy loop: config in, readiness in, ONE iptables-restore out per change.

    agent.json, cluster.json --(stat every 0.25 s, reload on change)--> ClusterState
    the store's binding table --(a watch, pushed)--> endpoints moved to their pods' nodes
    every node's agent --(Watcher threads, pushed NDJSON)--> Readiness
      (those three are gathered by inputs.ProxyInputs; this module decides when to sync)
    (state, ready endpoints) --rules.build_ruleset--> Ruleset
    Ruleset vs last applied --ruleset.restore_text--> iptables-restore --noflush

Syncs are partial (only changed chains) once a full sync succeeded. A full sync (read
iptables-save, rewrite every chain, delete stale ones, repair jump rules) runs at start,
after any failed restore (retried with backoff), when the canary chain shows the tables
were flushed (checked every second), and every `FULL_SYNC_PERIOD` as a safety net.
Cluster DNS is served from the same state: the zone is rebuilt whenever services or
ready endpoints change. Nothing is ever flushed on exit: routing keeps working while the
proxy restarts (fail static).

How it scales to 50 nodes: readiness arrives pushed over one connection per peer (see
watch.py: 50 idle sockets per node, 100 one-line heartbeats a second), so the loop never
polls peers; a pod turning unready is one snapshot line, then on every node one partial
sync that rewrites only the chain of each service port that pod backs; a silent node is
noticed by its 2 s deadline, not by probing. A full render is linear in services x
endpoints and the RenderCache re-renders only the services whose ready endpoints changed;
applying a change costs one iptables-restore of the changed chains (mostly the tool reading
the nf_tables ruleset), not of the cluster. What these cost at 1,000 services x 10
endpoints is what bench/bench_proxy.py measures (run it; figures written here go stale).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Dict, FrozenSet, Optional

from podplay.node.contract import defaults
from podplay.node.contract.proxy_status import ProxyStatus, endpoint_key
from podplay.node.proxy.inputs import ProxyInputs
from podplay.node.proxy.iptables import IptablesError, clear_udp_conntrack
from podplay.node.proxy.rules import RenderCache, build_ruleset
from podplay.node.proxy.ruleset import Ruleset, chain_count, parse_save, restore_text
from podplay.node.proxy.state import ClusterState, Endpoint, previously_routed
from podplay.node.proxy.watch import Watcher
from podplay.node.util.backoff import Backoff
from podplay.node.util.files import write_atomic

log = logging.getLogger("podplay.proxy")

POLL_FILES = 0.25  # a stat of two files: a new cluster.json is routed within ~0.25 s
CANARY_PERIOD = 1.0  # a flush is repaired within ~1 s (two `iptables -S` of one tiny chain)
FULL_SYNC_PERIOD = 900.0
STARTUP_GRACE = 2.5
RETRY_MIN, RETRY_MAX = 0.5, 10.0  # a failed restore: full resync after 0.5 s, 1 s ... 10 s


class Proxier:
    """One node's proxy. `step(now)` is one turn of the loop (tests drive it directly)."""

    def __init__(
        self,
        agent_config: str,
        iptables: Any,
        clock: Callable[[], float] = time.monotonic,
        watcher_factory: Callable[..., Any] = Watcher,
        on_zone: Optional[Callable[[ClusterState, FrozenSet[Endpoint]], None]] = None,
        status_path: Optional[str] = defaults.PROXY_STATUS_JSON,
        udp_cleanup: Callable[[Any], None] = clear_udp_conntrack,
        hairpin: Optional[Callable[[], None]] = None,
    ) -> None:
        self.ipt = iptables
        self.clock = clock
        self.on_zone = on_zone
        self.status_path = status_path
        self.udp_cleanup = udp_cleanup
        self.hairpin = hairpin
        self.wake = threading.Event()
        self.last_error: Optional[str] = None
        self.inputs = ProxyInputs(
            agent_config,
            clock,
            watcher_factory,
            self.wake,
            on_error=self._error,
            routed_before=previously_routed(status_path),
        )

        self.render_cache = RenderCache()
        self.applied: Optional[Ruleset] = None
        self.applied_ready: FrozenSet[Endpoint] = frozenset()
        self.applied_state: Optional[ClusterState] = None
        self.full_needed = True
        self.retry_at = 0.0
        self.retries = Backoff(RETRY_MIN, RETRY_MAX)
        self.started_at: Optional[float] = None
        self.next_canary = 0.0
        self.next_full = 0.0
        self.next_poll = 0.0
        self.stats = {"syncs": 0, "full_syncs": 0, "failures": 0, "last_sync_ms": 0.0}

    def _error(self, message: str) -> None:
        if message != self.last_error:
            log.error(message)
        self.last_error = message

    # -- the loop ----------------------------------------------------------------------------
    def step(self, now: float) -> None:
        """One turn: reload if due, sync if anything changed or a retry/canary/full is due."""
        if self.started_at is None:
            self.started_at = now
        if now >= self.next_poll:
            self.inputs.load()
            self._fix_hairpin()
            self.next_poll = now + POLL_FILES
        if self.inputs.node is not None:
            self.inputs.take_locations()
        if self._in_grace(now):
            return
        if now >= self.next_full:
            self.full_needed = True
        if self.applied is not None and not self.full_needed and now >= self.next_canary:
            self.next_canary = now + CANARY_PERIOD
            if not self._canary_ok():
                log.warning("canary chain missing: the tables were flushed; restoring everything")
                self.full_needed = True
        ready = self.inputs.readiness.ready(self.inputs.state, now)
        dirty = (
            self.full_needed
            or self.applied is None
            or ready != self.applied_ready
            or self.inputs.state is not self.applied_state
        )
        if dirty and now >= self.retry_at:
            if ready != self.applied_ready:
                self._fix_hairpin()  # a pod that just turned ready may be a new bridge port
            self.sync(ready, now)

    def _fix_hairpin(self) -> None:
        if self.hairpin is None:
            return
        try:
            self.hairpin()
        except Exception as err:  # never let a helper stop routing
            log.warning("hairpin check failed: %s", err)

    def _in_grace(self, now: float) -> bool:
        """At start, wait (briefly) for every node's first snapshot before the first sync,
        so a restarting proxy does not reject services whose endpoints it has not heard of."""
        if self.applied is not None or self.started_at is None:
            return False
        if now - self.started_at >= STARTUP_GRACE:
            return False
        return not all(self.inputs.readiness.heard_from(n.name) for n in self.inputs.state.nodes)

    def _canary_ok(self) -> bool:
        try:
            return bool(self.ipt.canary_ok())
        except Exception as err:
            self._error("canary check failed: %s" % err)
            return False

    def sync(self, ready: FrozenSet[Endpoint], now: float) -> bool:
        """Render and apply; on failure schedule a full resync with backoff."""
        state, node = self.inputs.state, self.inputs.node
        assert node is not None
        started = time.monotonic()
        desired = build_ruleset(state, ready, node, self.render_cache)
        full = self.full_needed or self.applied is None
        try:
            if full:
                text = restore_text(desired, current=parse_save(self.ipt.save()))
            else:
                text = restore_text(desired, applied=self.applied)
            if text:
                self.ipt.restore(text)
        except (IptablesError, OSError, ValueError) as err:
            self.stats["failures"] += 1
            delay = self.retries.failed()
            self._error("iptables sync failed (full resync in %.1fs): %s" % (delay, err))
            self.full_needed = True
            self.retry_at = now + delay
            self._write_status(now)
            return False
        gone = self._udp_endpoints(self.applied_state, self.applied_ready) - self._udp_endpoints(
            state, ready
        )
        if gone:
            self.udp_cleanup(sorted(gone))
        zone_changed = state is not self.applied_state or ready != self.applied_ready
        self.applied, self.applied_ready, self.applied_state = desired, ready, state
        self.full_needed = False
        self.retries.succeeded()
        self.last_error = None
        if full:
            self.stats["full_syncs"] += 1
            self.next_full = now + FULL_SYNC_PERIOD
            self.next_canary = now + CANARY_PERIOD
        self.stats["syncs"] += 1
        self.stats["last_sync_ms"] = round((time.monotonic() - started) * 1000, 1)
        chains, rules = chain_count(desired)
        log.info(
            "%s sync: %d ready endpoints, %d chains, %d rules, %d restore lines, %.1f ms",
            "full" if full else "partial",
            len(ready),
            chains,
            rules,
            text.count("\n"),
            self.stats["last_sync_ms"],
        )
        if zone_changed and self.on_zone is not None:
            self.on_zone(state, ready)
        self._write_status(now)
        return True

    @staticmethod
    def _udp_endpoints(state: Optional[ClusterState], ready: FrozenSet[Endpoint]) -> set:
        if state is None:
            return set()
        return {
            e.ip
            for s in state.services
            if any(p.protocol == "UDP" for p in s.ports)
            for e in s.endpoints
            if e in ready
        }

    def next_wakeup(self, now: float) -> float:
        """Seconds until the loop must look again even if nothing is pushed."""
        times = [self.next_poll, self.next_canary if self.applied is not None else now + 1]
        expiry = self.inputs.readiness.next_expiry(now)
        if expiry is not None:
            times.append(expiry + 0.01)
        if self.full_needed:
            times.append(self.retry_at)
        if self.applied is None and self.started_at is not None:
            times.append(self.started_at + STARTUP_GRACE)
        return max(0.0, min(times) - now)

    def run(self, stop: threading.Event) -> None:
        self.inputs.load()
        if self.on_zone is not None:
            self.on_zone(self.inputs.state, frozenset())
        while not stop.is_set() and not self.inputs.restart_requested:
            now = self.clock()
            self.step(now)
            self.wake.wait(min(self.next_wakeup(self.clock()), POLL_FILES))
            self.wake.clear()
        self.inputs.stop_watchers()

    # -- status --------------------------------------------------------------------------------
    def status(self, now: float) -> Dict[str, Any]:
        inputs = self.inputs
        return ProxyStatus(
            node=inputs.node.name if inputs.node else None,
            cluster_sha256=inputs.cluster_sha if self.applied_state is inputs.state else None,
            synced=self.applied is not None and not self.full_needed,
            wall_time=time.time(),
            services=len(inputs.state.services),
            ready_endpoints=frozenset(
                endpoint_key(e.namespace, e.pod, e.ip) for e in self.applied_ready
            ),
            nodes=tuple(inputs.readiness.describe(now)),
            stats=dict(self.stats),
            last_error=self.last_error,
        ).to_json()

    def _write_status(self, now: float) -> None:
        if not self.status_path:
            return
        try:
            write_atomic(self.status_path, json.dumps(self.status(now), indent=1, sort_keys=True))
        except OSError as err:
            log.debug("cannot write status: %s", err)
