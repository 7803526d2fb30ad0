"""What the proxy routes from: who this node is, what the cluster holds, what is ready.

    agent.json, cluster.json --(stat when asked, reload on change)--> node, file_state
    the store's binding table --(set_locations, any thread)--> state (endpoints moved)
    every node's agent --(one Watcher thread each, pushed NDJSON)--> readiness

Kept apart from the loop (proxier.py), which decides when to render and apply: this side
only gathers, and rings `wake` when something pushed may change what is routed. A file that
cannot be read or parsed leaves the previous value in force (fail static).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any, Callable, Dict, FrozenSet, Optional

from podplay.node.contract import defaults
from podplay.node.proxy.overlay import Location, PodKey, overlay
from podplay.node.proxy.readiness import Readiness
from podplay.node.proxy.state import (
    ClusterState,
    Endpoint,
    LocalNode,
    StateError,
    parse_agent_config,
    parse_cluster,
)
from podplay.node.proxy.watch import cluster_ca, read_token
from podplay.node.util.files import file_stamp

log = logging.getLogger("podplay.proxy")

EMPTY_STATE = ClusterState(
    "", defaults.POD_CIDR, defaults.SERVICE_CIDR, defaults.DNS_IP, defaults.CLUSTER_DOMAIN, (), ()
)


class ProxyInputs:
    """The node, the routed cluster state and the peers' readiness, kept current."""

    def __init__(
        self,
        agent_config: str,
        clock: Callable[[], float],
        watcher_factory: Callable[..., Any],
        wake: threading.Event,
        on_error: Callable[[str], None],
        routed_before: FrozenSet[Endpoint] = frozenset(),
    ) -> None:
        self.agent_config = agent_config
        self.clock = clock
        self.watcher_factory = watcher_factory
        self.wake = wake
        self.on_error = on_error

        self.node: Optional[LocalNode] = None
        self.state: ClusterState = EMPTY_STATE  # what is routed: the file's, moved by the store
        self.file_state: ClusterState = EMPTY_STATE  # cluster.json as read
        self.cluster_sha: Optional[str] = None
        self.locations: Dict[PodKey, Location] = {}  # the store's bindings (last known)
        self._new_locations: Optional[Dict[PodKey, Location]] = None
        self._lock = threading.Lock()
        self.readiness = Readiness()
        self.readiness.seed(routed_before)
        self.watchers: Dict[str, Any] = {}
        self._stamps: Dict[str, Any] = {}
        self.restart_requested = False

    # -- the files ---------------------------------------------------------------------------
    def load(self) -> bool:
        """Re-read agent.json / cluster.json when they changed; True if the state changed.

        A file that cannot be read or parsed leaves the previous state in force (fail static);
        only a missing agent.json at start is fatal (the proxy cannot know who it is).
        """
        changed = self._load_agent()
        changed = self._load_cluster() or changed
        if changed:
            self._sync_watchers()
        return changed

    def _load_agent(self) -> bool:
        stamp = file_stamp(self.agent_config)
        if stamp == self._stamps.get("agent"):
            return False
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
                self.node = node
                self._token = read_token(node.token_file)
                self._tls = cluster_ca(node.tls_ca)
                return True
        except (OSError, ValueError) as err:
            if self.node is None:
                raise StateError("cannot read %s: %s" % (self.agent_config, err)) from None
            self.on_error("keeping the previous agent config: %s" % err)
            self._stamps["agent"] = stamp
        return False

    def _load_cluster(self) -> bool:
        assert self.node is not None
        path = self.node.cluster_file
        stamp = file_stamp(path)
        if stamp == self._stamps.get("cluster"):
            return False
        self._stamps["cluster"] = stamp
        try:
            with open(path, "rb") as f:
                raw = f.read()
            state = parse_cluster(json.loads(raw.decode("utf-8")))
            sha = hashlib.sha256(raw).hexdigest()
            routed = overlay(state, self.locations)
            changed = routed != self.state
            # a new object even when equal: the next turn syncs and reports the new sha
            self.file_state, self.state, self.cluster_sha = state, routed, sha
            log.info("cluster state: %d services, %d nodes", len(state.services), len(state.nodes))
            return changed
        except FileNotFoundError:
            if self.state is not EMPTY_STATE and stamp is None:
                self.on_error("%s is gone; keeping the last state" % path)
        except (OSError, ValueError) as err:
            self.on_error("keeping the previous cluster state: %s" % err)
        return False

    # -- the store's bindings ----------------------------------------------------------------
    def set_locations(self, where: Dict[PodKey, Location]) -> None:
        """The store's binding table changed (any thread): route endpoints there."""
        with self._lock:
            self._new_locations = dict(where)
        self.wake.set()

    def take_locations(self) -> bool:
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

    # -- the peers' readiness ----------------------------------------------------------------
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

    def stop_watchers(self) -> None:
        for w in self.watchers.values():
            w.stop()

    def _on_snapshot(self, node: str, pods: list, generation: int) -> None:
        if self.readiness.snapshot(node, pods, self.clock(), generation):
            self.wake.set()

    def _on_heartbeat(self, node: str) -> None:
        if self.readiness.heartbeat(node, self.clock()):
            self.wake.set()

    def _on_plain(self, node: str) -> None:
        if self.readiness.hold(node, self.clock()):
            self.wake.set()
