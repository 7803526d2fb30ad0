"""The proxy loop: config in, readiness in, ONE iptables-restore out per change.

    agent.json, cluster.json --(stat every 0.5 s, reload on change)--> ClusterState
    the store's binding table --(a watch, pushed)--> endpoints moved to their pods' nodes
    every node's agent --(Watcher threads, pushed NDJSON)--> Readiness
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

import hashlib
import json
import logging
import os
import threading
import time
from typing import Any, Callable, Dict, FrozenSet, Optional, Tuple

from podplay.node.contract import defaults
from podplay.node.contract.proxy_status import ProxyStatus, endpoint_key
from podplay.node.proxy.iptables import IptablesError, clear_udp_conntrack
from podplay.node.proxy.overlay import Location, PodKey, overlay
from podplay.node.proxy.readiness import Readiness
from podplay.node.proxy.rules import RenderCache, build_ruleset
from podplay.node.proxy.ruleset import Ruleset, chain_count, parse_save, restore_text
from podplay.node.proxy.state import (
    ClusterState,
    Endpoint,
    LocalNode,
    StateError,
    parse_agent_config,
    parse_cluster,
    previously_routed,
)
from podplay.node.proxy.watch import Watcher, cluster_ca, read_token
from podplay.node.util.backoff import Backoff
from podplay.node.util.files import write_atomic

log = logging.getLogger("podplay.proxy")

POLL_FILES = 0.25  # a stat of two files: a new cluster.json is routed within ~0.25 s
CANARY_PERIOD = 1.0  # a flush is repaired within ~1 s (two `iptables -S` of one tiny chain)
FULL_SYNC_PERIOD = 900.0
STARTUP_GRACE = 2.5
RETRY_MIN, RETRY_MAX = 0.5, 10.0  # a failed restore: full resync after 0.5 s, 1 s ... 10 s

EMPTY_STATE = ClusterState(
    "", defaults.POD_CIDR, defaults.SERVICE_CIDR, defaults.DNS_IP, defaults.CLUSTER_DOMAIN, (), ()
)


def _stamp(path: str) -> Optional[Tuple[int, int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


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
        self.agent_config = agent_config
        self.ipt = iptables
        self.clock = clock
        self.watcher_factory = watcher_factory
        self.on_zone = on_zone
        self.status_path = status_path
        self.udp_cleanup = udp_cleanup
        self.hairpin = hairpin

        self.node: Optional[LocalNode] = None
        self.state: ClusterState = EMPTY_STATE  # what is routed: the file's, moved by the store
        self.file_state: ClusterState = EMPTY_STATE  # cluster.json as read
        self.locations: Dict[PodKey, Location] = {}  # the store's bindings (last known)
        self._new_locations: Optional[Dict[PodKey, Location]] = None
        self._lock = threading.Lock()
        self.cluster_sha: Optional[str] = None
        self.readiness = Readiness()
        self.readiness.seed(previously_routed(status_path))
        self.watchers: Dict[str, Any] = {}
        self.wake = threading.Event()

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
        self._stamps: Dict[str, Any] = {}
        self.stats = {"syncs": 0, "full_syncs": 0, "failures": 0, "last_sync_ms": 0.0}
        self.last_error: Optional[str] = None
        self.restart_requested = False

    # -- configuration -----------------------------------------------------------------------
    def load(self) -> bool:
        """Re-read agent.json / cluster.json when they changed; True if the state changed.

        A file that cannot be read or parsed leaves the previous state in force (fail static);
        only a missing agent.json at start is fatal (the proxy cannot know who it is).
        """
        changed = False
        stamp = _stamp(self.agent_config)
        if stamp != self._stamps.get("agent"):
            try:
                with open(self.agent_config) as f:
                    node = parse_agent_config(json.load(f))
                self._stamps["agent"] = stamp
                if self.node is not None and node != self.node:
                    # who this node is (address, pod CIDR, token file) is fixed for the life
                    # of the process: the DNS socket and the watchers depend on it. Exit and
                    # let systemd start a fresh proxy; the kernel keeps routing meanwhile.
                    log.info("agent.json changed (%s): restarting the proxy", self.agent_config)
                    self.restart_requested = True
                elif node != self.node:
                    self.node, changed = node, True
                    self._token = read_token(node.token_file)
                    self._tls = cluster_ca(node.tls_ca)
            except (OSError, ValueError) as err:
                if self.node is None:
                    raise StateError("cannot read %s: %s" % (self.agent_config, err)) from None
                self._error("keeping the previous agent config: %s" % err)
                self._stamps["agent"] = stamp
        assert self.node is not None
        path = self.node.cluster_file
        stamp = _stamp(path)
        if stamp != self._stamps.get("cluster"):
            self._stamps["cluster"] = stamp
            try:
                with open(path, "rb") as f:
                    raw = f.read()
                state = parse_cluster(json.loads(raw.decode("utf-8")))
                sha = hashlib.sha256(raw).hexdigest()
                routed = overlay(state, self.locations)
                if routed != self.state:
                    changed = True
                # a new object even when equal: the next turn syncs and reports the new sha
                self.file_state, self.state, self.cluster_sha = state, routed, sha
                log.info(
                    "cluster state: %d services, %d nodes", len(state.services), len(state.nodes)
                )
            except FileNotFoundError:
                if self.state is not EMPTY_STATE and stamp is None:
                    self._error("%s is gone; keeping the last state" % path)
            except (OSError, ValueError) as err:
                self._error("keeping the previous cluster state: %s" % err)
        if changed:
            self._sync_watchers()
        return changed

    def set_locations(self, where: Dict[PodKey, Location]) -> None:
        """The store's binding table changed (any thread): route endpoints there."""
        with self._lock:
            self._new_locations = dict(where)
        self.wake.set()

    def _take_locations(self) -> bool:
        """Apply locations handed over since the last turn; True when routing changed."""
        with self._lock:
            where, self._new_locations = self._new_locations, None
        if where is None or where == self.locations:
            return False
        self.locations = where
        routed = overlay(self.file_state, where)
        if routed == self.state:
            return False
        self.state = routed  # nodes are the file's: the watchers stay as they are
        return True

    def _error(self, message: str) -> None:
        if message != self.last_error:
            log.error(message)
        self.last_error = message

    def _sync_watchers(self) -> None:
        """One watcher per node in cluster.json (this node included); restart on a new address."""
        assert self.node is not None
        want = {n.name: (n.address, n.api_port) for n in self.state.nodes}
        for name in list(self.watchers):
            w = self.watchers[name]
            if want.get(name) != (w.address, w.port):
                w.stop()
                del self.watchers[name]
                if name not in want:
                    self.readiness.forget(name)
        for name, (address, port) in sorted(want.items()):
            if name not in self.watchers:
                w = self.watcher_factory(
                    *(name, address, port, self._token, self._on_snapshot, self._on_heartbeat),
                    tls_context=self._tls,
                    on_plain=self._on_plain,
                )
                self.watchers[name] = w
                w.start()

    def _on_snapshot(self, node: str, pods: list, generation: int) -> None:
        if self.readiness.snapshot(node, pods, self.clock(), generation):
            self.wake.set()

    def _on_heartbeat(self, node: str) -> None:
        if self.readiness.heartbeat(node, self.clock()):
            self.wake.set()

    def _on_plain(self, node: str) -> None:
        if self.readiness.hold(node, self.clock()):
            self.wake.set()

    # -- the loop ----------------------------------------------------------------------------
    def step(self, now: float) -> None:
        """One turn: reload if due, sync if anything changed or a retry/canary/full is due."""
        if self.started_at is None:
            self.started_at = now
        if now >= self.next_poll:
            self.load()
            self._fix_hairpin()
            self.next_poll = now + POLL_FILES
        if self.node is not None:
            self._take_locations()
        if self._in_grace(now):
            return
        if now >= self.next_full:
            self.full_needed = True
        if self.applied is not None and not self.full_needed and now >= self.next_canary:
            self.next_canary = now + CANARY_PERIOD
            if not self._canary_ok():
                log.warning("canary chain missing: the tables were flushed; restoring everything")
                self.full_needed = True
        ready = self.readiness.ready(self.state, now)
        dirty = (
            self.full_needed
            or self.applied is None
            or ready != self.applied_ready
            or self.state is not self.applied_state
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
        return not all(self.readiness.heard_from(n.name) for n in self.state.nodes)

    def _canary_ok(self) -> bool:
        try:
            return bool(self.ipt.canary_ok())
        except Exception as err:
            self._error("canary check failed: %s" % err)
            return False

    def sync(self, ready: FrozenSet[Endpoint], now: float) -> bool:
        """Render and apply; on failure schedule a full resync with backoff."""
        assert self.node is not None
        started = time.monotonic()
        desired = build_ruleset(self.state, ready, self.node, self.render_cache)
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
            self.state, ready
        )
        if gone:
            self.udp_cleanup(sorted(gone))
        zone_changed = self.state is not self.applied_state or ready != self.applied_ready
        self.applied, self.applied_ready, self.applied_state = desired, ready, self.state
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
            self.on_zone(self.state, ready)
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
        expiry = self.readiness.next_expiry(now)
        if expiry is not None:
            times.append(expiry + 0.01)
        if self.full_needed:
            times.append(self.retry_at)
        if self.applied is None and self.started_at is not None:
            times.append(self.started_at + STARTUP_GRACE)
        return max(0.0, min(times) - now)

    def run(self, stop: threading.Event) -> None:
        self.load()
        if self.on_zone is not None:
            self.on_zone(self.state, frozenset())
        while not stop.is_set() and not self.restart_requested:
            now = self.clock()
            self.step(now)
            self.wake.wait(min(self.next_wakeup(self.clock()), POLL_FILES))
            self.wake.clear()
        for w in self.watchers.values():
            w.stop()

    # -- status --------------------------------------------------------------------------------
    def status(self, now: float) -> Dict[str, Any]:
        return ProxyStatus(
            node=self.node.name if self.node else None,
            cluster_sha256=self.cluster_sha if self.applied_state is self.state else None,
            synced=self.applied is not None and not self.full_needed,
            wall_time=time.time(),
            services=len(self.state.services),
            ready_endpoints=frozenset(
                endpoint_key(e.namespace, e.pod, e.ip) for e in self.applied_ready
            ),
            nodes=tuple(self.readiness.describe(now)),
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
