"""The agent's loop: read what is wanted and what the engine shows, decide, act, probe,
publish. Everything that changes state happens on the loop thread; other threads (manifest
watcher, engine events, workers, probes) only post messages (`messages`) to its inbox.

`Agent` coordinates; each concern is a collaborator with its own module: `sources` and
`bindings` (which pods are wanted: the manifest files, or the store's binding table once it
was read; `storelink` keeps the node lease and the table), `engine` (what runs),
`reconcile` (the pure decision), `actuator` (runs the actions), `probing` (probe
bookkeeping), `publisher` (statuses and events), `memory` (what survives a restart),
`liveness` (a stuck loop or a node going down makes every pod unready on the board).

Fail static: the agent never stops pods when it stops; a new agent adopts them by label.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from . import memory
from .actuator import Actuator
from .admission import admit
from .bindings import MOVED_AWAY, BoundPods
from .board import EventLog, StatusBoard
from .config import AgentConfig, backoff_policy
from .engine import EngineView
from .liveness import DRAIN_SECONDS, LoopWatch, system_stopping, watchdog
from .manifest import InvalidPod, Manifest, PodSpec
from .messages import (
    ActionsDone,
    BindingsChanged,
    EngineChanged,
    ManifestsChanged,
    Message,
    ProbeResult,
    Stop,
)
from .observed import Observed, PodKey, find_container
from .prober import ExecProber
from .probing import Probing
from .publisher import Publisher
from .reconcile import Context, Decision, decide
from .runtime import DockerRuntime
from .sources import ManifestDir
from .storelink import StoreLink
from .watcher import DirWatcher

log = logging.getLogger("podplay.agent")


class Agent:
    """One node's agent. `run()` blocks until `stop()`; pods outlive it."""

    def __init__(
        self,
        cfg: AgentConfig,
        runtime: Optional[DockerRuntime] = None,
        clock: Callable[[], float] = time.time,
        board: Optional[StatusBoard] = None,
        events: Optional[EventLog] = None,
        remembered: Optional[Dict[str, Any]] = None,
        boot: Optional[memory.Boot] = None,
        shutting_down: Callable[[], bool] = system_stopping,
    ) -> None:
        self.cfg = cfg
        self.rt = runtime or DockerRuntime(
            cfg.bridge_network, cfg.pause_image, oci_runtime=cfg.oci_runtime
        )
        self.clock = clock
        self.board = board or StatusBoard()
        self.events = events or EventLog()
        self.inbox: "queue.Queue[Message]" = queue.Queue()
        self.boot = boot or memory.this_boot()
        self.shutting_down = shutting_down
        self.node_stopping = False  # learnt when the agent stops
        self.loopwatch = LoopWatch()
        saved = memory.load(cfg.state_dir) if remembered is None else remembered
        recalled = memory.recall(saved, self.boot)
        self.manifests = ManifestDir(cfg.pods_dir, cfg.pod_cidr)
        self.bound = BoundPods(cfg.node, cfg.pod_cidr)
        self.store_link: Optional[StoreLink] = None
        self.engine = EngineView(self.rt, cfg.bridge_network, cfg.resync_seconds, clock)
        self.actuator = Actuator(
            self.rt, self.events, self.post, clock, cfg.workers, recalled.streaks
        )
        self.probing = Probing(
            ExecProber(self.rt.exec), self.events, self.post, clock, recalled.ready
        )
        self.publisher = Publisher(self.board, self.events)
        self.state_writer = memory.StateWriter(cfg.state_dir, clock)
        self.exit_reason = ""
        self._stopping = threading.Event()
        self._watcher: Optional[DirWatcher] = None
        self._dirty_manifests = True
        self._dirty_bindings = False
        self._pass_needed = True
        self._deadline: Optional[float] = None  # next wake-up: a probe or a full pass
        self._full_due: Optional[float] = None  # next full pass (backoff end, resync, save)

    # -- life cycle -----------------------------------------------------------------------

    def attach_store(self, link: Optional[StoreLink]) -> None:
        """Follow the store's binding table through `link`; before `run`."""
        self.store_link = link
        self._dirty_bindings = link is not None
        if link is not None:
            link.post = self.post

    def start_background(self) -> None:
        """Manifest watcher and engine event threads (the API server is started by the CLI)."""
        os.makedirs(self.cfg.pods_dir, exist_ok=True)
        os.makedirs(self.cfg.state_dir, exist_ok=True)
        self._watcher = DirWatcher(self.cfg.pods_dir, lambda: self.post(ManifestsChanged()))
        self._watcher.start()
        if self.store_link is not None:
            self.store_link.start(self._stopping)  # waits (briefly) for the binding table
        threading.Thread(
            target=self.engine.watch_events,
            args=(self.post, self._stopping),
            name="engine-events",
            daemon=True,
        ).start()
        threading.Thread(
            target=watchdog,
            args=(self.loopwatch, self.board, self._stopping),
            name="loop-watchdog",
            daemon=True,
        ).start()

    def stop(self, reason: str = "") -> None:
        self.exit_reason = self.exit_reason or reason
        self._stopping.set()
        # from a signal handler too: never take the inbox's lock on this thread
        threading.Thread(target=self.post, args=(Stop(),), daemon=True).start()

    def post(self, msg: Message) -> None:
        self.inbox.put(msg)

    def run(self) -> None:
        """The loop. Returns when stopped; pods keep running."""
        self.start_background()
        while not self._stopping.is_set():
            self._wait()
            if self._stopping.is_set():
                break
            self.loopwatch.begin()
            try:
                if self._pass_needed or self.clock() >= (self._full_due or 0.0):
                    self.step()
                else:
                    self.probe_step()
            except Exception:  # the loop must survive a bug in one pass
                log.exception("reconcile pass failed")
                self.engine.dirty = True
                time.sleep(1)
            if self.loopwatch.end():  # the watchdog marked the board: publish afresh
                self._pass_needed = True
        self._save_state()
        if self._watcher is not None:
            self._watcher.stop()
        self.actuator.shutdown()
        self.probing.shutdown()
        self._drain_if_node_stops()

    def _drain_if_node_stops(self) -> None:
        """The node is going down (not just the agent): its pods stop next, with the engine.
        Say so while watchers still listen, so every node stops routing to them first."""
        self.node_stopping = self.shutting_down()
        if not self.node_stopping:
            return
        log.info("node shutting down: every pod marked unready")
        self.board.mark_unready("node shutting down; its pods are about to stop")
        time.sleep(DRAIN_SECONDS)

    def _wait(self) -> None:
        """Block until a message arrives or the next deadline; then take every message."""
        timeout = self.cfg.resync_seconds
        if self._deadline is not None:
            timeout = min(timeout, max(0.0, self._deadline - self.clock()))
        if not self.engine.ok:
            timeout = min(timeout, 1.0)
        try:
            msg = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return
        self._handle(msg)
        while True:
            try:
                self._handle(self.inbox.get_nowait())
            except queue.Empty:
                return

    def _handle(self, msg: Message) -> None:
        if isinstance(msg, ProbeResult):
            if self.probing.record(msg, self.engine.observed):
                self._pass_needed = True
            return
        self._pass_needed = True
        if isinstance(msg, ManifestsChanged):
            self._dirty_manifests = True
        elif isinstance(msg, BindingsChanged):
            self._dirty_bindings = True
        elif isinstance(msg, EngineChanged):
            self.engine.changed(msg)
        elif isinstance(msg, ActionsDone):
            self.actuator.on_done(msg)
            if msg.started:  # only new containers: the view takes them as reported
                self.engine.add_started(msg.started)
            else:
                self.engine.dirty = True  # see what the actions did

    # -- one pass -------------------------------------------------------------------------

    def probe_step(self) -> None:
        """The idle path: probes came back unchanged, or more are due; nothing to decide."""
        self.probing.schedule(self.clock())
        self._set_deadline()

    def step(self) -> None:
        """One full pass: read what changed, decide, act, probe, publish."""
        self._pass_needed = False
        now = self.clock()
        self._read_desired(now)
        self.engine.refresh_if_needed(now)
        running = {o.key for o in self.engine.observed}
        desired, failed = admit(
            self.wanted(), self.engine.images or {}, self.cfg.pause_image, running
        )
        self.probing.sync(desired, self.engine.observed, now)
        decision = self._decide_and_act(desired, now)
        self.probing.schedule(now)
        self._publish(desired, failed, decision)
        self._save_state(now)
        due = [decision.wake_at, self.engine.next_resync, self.state_writer.due]
        self._full_due = min((t for t in due if t is not None), default=None)
        self._set_deadline()

    def _read_desired(self, now: float) -> None:
        """Where wanted pods come from: the manifest files, and the store's binding table
        (which rules once read, see `bindings`). The periodic resync re-reads the directory
        too (a stat per file): a missed watch event delays a change by one resync period,
        never forever."""
        if self._dirty_manifests or now >= self.engine.next_resync:
            self._dirty_manifests = False
            self.manifests.read()
        if self._dirty_bindings and self.store_link is not None:
            self._dirty_bindings = False
            before = self.wanted()
            view = self.store_link.view()
            self.bound.update(view.kvs, view.synced)
            for (ns, pod), message in self.bound.moved_away(before) if self.bound.active else ():
                log.info("%s", message)
                self.events.record(ns, pod, "Normal", MOVED_AWAY, message)

    def wanted(self) -> Dict[PodKey, Manifest]:
        """The pods this node should run: the store's table once read, else the files."""
        return self.bound.pods if self.bound.active else self.manifests.pods

    def _decide_and_act(self, desired: Dict[PodKey, PodSpec], now: float) -> Decision:
        if not self.engine.usable:
            return Decision()  # nothing is changed on a node that cannot run pods
        ctx = Context(
            now=now,
            streaks=self.actuator.streaks,
            kill=self.probing.kill_reasons(),
            busy=frozenset(self.actuator.busy),
            retry_at=self.actuator.retry_at(),
            policy=backoff_policy(self.cfg),
        )
        decision = decide(desired, self.engine.observed, ctx)
        self.actuator.dispatch(decision.actions)
        return decision

    def _publish(
        self, desired: Dict[PodKey, PodSpec], failed: Dict[PodKey, InvalidPod], d: Decision
    ) -> None:
        if not self.engine.seen:
            self.publisher.keep_previous(self.engine.message)
            return
        errors = {k: (e.reason, e.message) for k, e in self.actuator.errors.items()}
        problem = None if self.engine.usable else self.engine.message
        self.publisher.publish(
            desired,
            failed,
            self.engine.observed,
            d,
            self.probing.ready_of,
            errors,
            set(self.actuator.busy),
            problem,
        )

    def _save_state(self, now: Optional[float] = None) -> None:
        """Write agent-state.json when it changed, at most once a second (and when stopping)."""
        if self.state_writer.held_back(now):
            return
        self.actuator.forget_streaks({o.uid for o in self.engine.observed})
        generation, pods = self.board.snapshot()
        self.state_writer.write(
            memory.state_text(
                generation,
                pods,
                self.probing.readiness(),
                self.actuator.streaks,
                self.boot.id,
            )
        )

    def _set_deadline(self) -> None:
        times = [t for t in (self.probing.next_due(), self._full_due) if t is not None]
        self._deadline = min(times) if times else None

    # -- for the API ----------------------------------------------------------------------

    def find_container(
        self, namespace: str, pod: str, container: Optional[str], previous: bool = False
    ) -> Tuple[Optional[Observed], str]:
        """The container a logs request means, or (None, why not)."""
        wanted = self.wanted().get((namespace, pod))
        current_uid = wanted.uid if wanted is not None else ""
        return find_container(
            self.engine.observed, (namespace, pod), container, current_uid, previous
        )
