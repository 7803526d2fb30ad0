"""The agent's loop: read manifests and the engine, decide, act one pod at a time, probe,
publish status. Everything that changes state happens on the loop thread; other threads
(manifest watcher, engine events, workers, probes) only post messages to its inbox.

Fail static: the agent never stops pods when it stops; a new agent adopts them by label.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from docker.errors import DockerException

from . import memory
from .admission import admit
from .board import EventLog, StatusBoard
from .config import AgentConfig, backoff_policy
from .manifest import InvalidPod, Manifest, PodSpec, key_from_filename, parse_manifest
from .observed import L_POD, Observed
from .prober import ExecProber, run_probe
from .probes import ContainerProbes
from .reconcile import (
    CRASH_LOOP,
    Context,
    Decision,
    KillContainer,
    PodKey,
    RemoveContainers,
    RemovePod,
    StartContainer,
    StartPod,
    decide,
)
from .runtime import DockerRuntime, RuntimeError_
from .status import invalid_status, pod_status, sort_pods, terminating_status
from .watcher import DirWatcher

log = logging.getLogger("podplay.agent")

# Engine events that change what the agent sees. Not among them: exec_* (exec probes),
# create (the agent's own, followed by its own refresh), network connect/disconnect (every
# sandbox start; only a network appearing or going matters).
_CONTAINER_ACTIONS = {"start", "die", "destroy", "oom", "pause", "unpause", "rename"}
_NETWORK_ACTIONS = {"create", "destroy", "remove"}
_DEATHS = {"die", "oom"}
SAVE_INTERVAL = 1.0


@dataclass
class PodError:
    reason: str
    message: str
    retry_at: float
    count: int


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
    ) -> None:
        self.cfg = cfg
        self.rt = runtime or DockerRuntime(cfg.bridge_network, cfg.pause_image)
        self.clock = clock
        self.board = board or StatusBoard()
        self.events = events or EventLog()
        self.inbox: "queue.Queue[tuple]" = queue.Queue()
        self.workers = ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="pod")
        # Stopping mostly waits (up to a grace period): its own pool, so that pods being
        # stopped never hold up pods being started (a rollout does both at once).
        self.stoppers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="stop")
        self.probe_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="probe")
        self.exec_prober = ExecProber(self.rt.exec)
        self.exit_reason = ""
        self._stopping = threading.Event()
        self._threads: List[threading.Thread] = []
        self._watcher: Optional[DirWatcher] = None
        # loop-thread state
        self._mcache: Dict[str, Tuple[Tuple[int, int, int], Manifest]] = {}
        self.manifests: Dict[PodKey, Manifest] = {}
        self.observed: List[Observed] = []
        self.images: Optional[Dict[str, str]] = None
        self.engine_ok = False
        self.engine_message = "not yet connected to the container engine"
        self.network_ok = False
        self._engine_seen = False
        self.busy: Dict[PodKey, str] = {}
        self.errors: Dict[PodKey, PodError] = {}
        self.streaks: Dict[Tuple[str, str], int] = {}
        self.probes: Dict[str, ContainerProbes] = {}
        self._probe_ip: Dict[str, str] = {}
        self._probe_specs: Dict[str, tuple] = {}
        self._ready_hints: Dict[str, bool] = {}
        self._dirty_manifests = True
        self._dirty_engine = True
        self._dirty_images = True
        # containers an event just named: inspect them rather than trust the (lagging) list
        self._fresh_ids: set = set()
        self._next_resync = 0.0
        self._deadline: Optional[float] = None  # next wake-up: a probe or a full pass
        self._full_due: Optional[float] = None  # next full pass (backoff end, resync, save)
        self._pass_needed = True
        self._reported: set = set()  # (key, reason, message) already recorded as events
        self._saved_state = ""
        self._last_save = 0.0
        self._save_due: Optional[float] = None
        self._memory = remembered if remembered is not None else memory.load(cfg.state_dir)
        self._load_state()

    # -- life cycle -----------------------------------------------------------------------

    def start_background(self) -> None:
        """Manifest watcher and engine event threads (the API server is started by the CLI)."""
        os.makedirs(self.cfg.pods_dir, exist_ok=True)
        os.makedirs(self.cfg.state_dir, exist_ok=True)
        self._watcher = DirWatcher(self.cfg.pods_dir, lambda: self.post("manifests")).start()
        t = threading.Thread(target=self._engine_events, name="engine-events", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, reason: str = "") -> None:
        self.exit_reason = self.exit_reason or reason
        self._stopping.set()
        # from a signal handler too: never take the inbox's lock on this thread
        threading.Thread(target=self.post, args=("stop",), daemon=True).start()

    def post(self, *msg: Any) -> None:
        self.inbox.put(msg)

    def run(self) -> None:
        """The loop. Returns when stopped; pods keep running."""
        self.start_background()
        while not self._stopping.is_set():
            self._wait()
            if self._stopping.is_set():
                break
            try:
                if self._pass_needed or self.clock() >= (self._full_due or 0.0):
                    self.step()
                else:
                    self.probe_step()
            except Exception:  # the loop must survive a bug in one pass
                log.exception("reconcile pass failed")
                self._dirty_engine = True
                time.sleep(1)
        self._save_state()
        if self._watcher is not None:
            self._watcher.stop()
        self.workers.shutdown(wait=False)
        self.stoppers.shutdown(wait=False)
        self.probe_pool.shutdown(wait=False)

    def _wait(self) -> None:
        now = self.clock()
        timeout = self.cfg.resync_seconds
        if self._deadline is not None:
            timeout = min(timeout, max(0.0, self._deadline - now))
        if not self.engine_ok:
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

    def _handle(self, msg: tuple) -> None:
        kind = msg[0]
        if kind != "probe":
            self._pass_needed = True
        if kind == "manifests":
            self._dirty_manifests = True
        elif kind == "engine":
            self._dirty_engine = True
            if msg[1]:
                self._dirty_images = True
            if len(msg) > 2 and msg[2]:
                self._fresh_ids.add(msg[2])
        elif kind == "done":
            self._on_done(*msg[1:])
        elif kind == "probe" and self._on_probe(*msg[1:]):
            self._pass_needed = True

    # -- one pass -------------------------------------------------------------------------

    def probe_step(self) -> None:
        """The idle path: probes came back unchanged, or more are due; nothing to decide."""
        now = self.clock()
        self._schedule_probes(now)
        self._set_deadline()

    def step(self) -> None:
        """One full pass: read what changed, decide, act, probe, publish."""
        self._pass_needed = False
        now = self.clock()
        if self._dirty_manifests or now >= self._next_resync:
            # the periodic resync re-reads the directory too (a stat per file): a missed
            # watch event can delay a manifest change by one resync period, never forever
            self._dirty_manifests = False
            self._load_manifests()
        if self._dirty_engine or now >= self._next_resync or not self.engine_ok:
            self._refresh_engine(full=self._dirty_images or now >= self._next_resync)
        desired, failed = admit(self.manifests, self.images or {}, self.cfg.pause_image)
        self._sync_probes(desired)
        decision = Decision()
        if self.engine_ok and self.network_ok:
            kill = {cid: p.kill_reason() for cid, p in self.probes.items() if p.kill_reason()}
            ctx = Context(
                now=now,
                streaks=self.streaks,
                kill=kill,
                busy=frozenset(self.busy),
                retry_at={k: e.retry_at for k, e in self.errors.items()},
                policy=backoff_policy(self.cfg),
            )
            decision = decide(desired, self.observed, ctx)
            self._dispatch(decision.actions)
        self._schedule_probes(now)
        self._publish(desired, failed, decision)
        self._save_state(now)
        full = [d for d in (decision.wake_at, self._next_resync, self._save_due) if d is not None]
        self._full_due = min(full) if full else None
        self._set_deadline()

    def _set_deadline(self) -> None:
        times = [p.next_due() for p in self.probes.values()] + [self._full_due]
        times = [t for t in times if t is not None]
        self._deadline = min(times) if times else None

    def _load_manifests(self) -> None:
        try:
            names = sorted(os.listdir(self.cfg.pods_dir))
        except OSError as err:
            log.warning("cannot list %s: %s", self.cfg.pods_dir, err)
            return  # keep what we had: never remove pods because a read failed
        cache = {}
        for name in names:
            if key_from_filename(name) is None:
                continue
            path = os.path.join(self.cfg.pods_dir, name)
            try:
                st = os.stat(path)
                sig = (st.st_mtime_ns, st.st_size, st.st_ino)
                cached = self._mcache.get(name)
                if cached is not None and cached[0] == sig:
                    cache[name] = cached
                    continue
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue  # removed while we looked
            cache[name] = (sig, parse_manifest(name, data, self.cfg.pod_cidr))
        self._mcache = cache
        self.manifests = {m.key: m for _, m in cache.values()}

    def _refresh_engine(self, full: bool) -> None:
        now = self.clock()
        try:
            self.observed = self.rt.list_observed(fresh=self._fresh_ids)
            self._fresh_ids = set()
            if full or self.images is None:
                self.images = self.rt.images()
                self.network_ok = self.rt.network_ready()
                self._dirty_images = False
                self._next_resync = now + self.cfg.resync_seconds
            self._dirty_engine = False
            if not self.engine_ok:
                log.info("connected to the container engine")
            self.engine_ok = True
            self._engine_seen = True
            missing = "the pod network %r does not exist on this node yet"
            self.engine_message = "" if self.network_ok else missing % self.cfg.bridge_network
        except (DockerException, OSError) as err:
            if self.engine_ok:
                log.warning("container engine unreachable: %s", err)
            self.engine_ok = False
            self.engine_message = "container engine unreachable: %s" % _short(err)

    def _engine_events(self) -> None:
        """Engine events -> inbox; reconnects (and asks for a full resync) when the stream ends."""
        while not self._stopping.is_set():
            try:
                stream = self.rt.events()
                self.post("engine", True)
                for ev in stream:
                    if self._stopping.is_set():
                        return
                    typ = ev.get("Type")
                    action = (ev.get("Action") or ev.get("status") or "").split(":")[0]
                    if typ == "container":
                        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
                        if L_POD in attrs and action in _CONTAINER_ACTIONS:
                            # the list lags a death: inspect what died rather than trust it
                            cid = (ev.get("Actor") or {}).get("ID", "")
                            self.post("engine", False, cid if action in _DEATHS else "")
                    elif typ == "image" or (typ == "network" and action in _NETWORK_ACTIONS):
                        self.post("engine", True)
            except Exception as err:  # engine restarting or gone
                log.debug("engine event stream ended: %s", err)
            self.post("engine", True)
            self._stopping.wait(1.0)

    # -- acting ---------------------------------------------------------------------------

    def _dispatch(self, actions: List[object]) -> None:
        batches: Dict[PodKey, List[object]] = {}
        for a in actions:
            batches.setdefault(a.key, []).append(a)  # type: ignore[attr-defined]
        for key, batch in batches.items():
            self.busy[key] = type(batch[-1]).__name__
            pool = self.stoppers if any(_stops(a) for a in batch) else self.workers
            pool.submit(self._execute, key, batch)

    def _execute(self, key: PodKey, actions: List[object]) -> None:
        """Worker thread: run one pod's actions in order; report back to the loop."""
        effects: List[tuple] = []
        error: Optional[Tuple[str, str]] = None
        try:
            # containers being replaced stop together (each within its grace period)
            replaced = [
                a.stop_first
                for a in actions
                if isinstance(a, StartContainer) and a.stop_first is not None
            ]
            if len(replaced) > 1:
                self._stop_all(replaced)
            for a in actions:
                self._apply(a, effects)
        except RuntimeError_ as err:
            error = (err.reason, str(err))
        except (DockerException, OSError) as err:
            error = ("RuntimeError", _short(err))
        except Exception as err:  # never let a worker die silently
            log.exception("action on %s/%s failed", key[0], key[1])
            error = ("AgentError", _short(err))
        if error is not None:
            self.events.record(key[0], key[1], "Warning", error[0], error[1])
        self.post("done", key, effects, error)

    def _apply(self, a: object, effects: List[tuple]) -> None:
        ev = self.events.record
        if isinstance(a, RemovePod):
            ns, pod = a.key
            ev(ns, pod, "Normal", "Killing", "stopping pod (%s)" % a.reason)
            self._stop_all([o for o in a.containers if o.running and not o.is_sandbox])
            for o in a.containers:
                self.rt.remove(o)
        elif isinstance(a, StartPod):
            ns, pod = a.key
            running = [o for o in a.replaces if o.running and not o.is_sandbox]
            if a.replaces:
                ev(
                    ns,
                    pod,
                    "Normal",
                    "SandboxChanged",
                    "pod will be started afresh (%s)" % a.reason,
                )
            self._stop_all(running)
            for o in a.replaces:
                if o.id not in a.keep:
                    self.rt.remove(o)
            sid = self.rt.create_sandbox(a.spec, a.sandbox_attempt)
            ev(ns, pod, "Normal", "SandboxStarted", "sandbox %s with IP %s" % (sid[:12], a.spec.ip))
            for name, attempt in a.attempts:
                c = a.spec.container(name)
                if c is None:
                    continue
                cid = self.rt.run_container(a.spec, c, attempt, sid)
                ev(ns, pod, "Normal", "Started", "container %s started (%s)" % (name, cid[:12]))
        elif isinstance(a, StartContainer):
            ns, pod = a.key
            if a.stop_first is not None:
                ev(ns, pod, "Normal", "Killing", "container %s: %s" % (a.container.name, a.reason))
                self.rt.stop(a.stop_first)
            cid = self.rt.run_container(a.spec, a.container, a.attempt, a.sandbox_id)
            if a.streak is not None:
                effects.append(("streak", (a.spec.uid, a.container.name), a.streak))
            ev(
                ns,
                pod,
                "Normal",
                "Started",
                "container %s started (%s, %s)" % (a.container.name, cid[:12], a.reason),
            )
        elif isinstance(a, KillContainer):
            ns, pod = a.key
            ev(
                ns,
                pod,
                "Warning",
                "Killing",
                "container %s: %s" % (a.container.container, a.reason),
            )
            self.rt.stop(a.container)
        elif isinstance(a, RemoveContainers):
            for o in a.containers:
                if o.running and not o.is_sandbox:
                    self.rt.stop(o)
                self.rt.remove(o)

    def _stop_all(self, containers: List[Observed]) -> None:
        """Stop containers in parallel, each with its own grace period."""
        if len(containers) <= 1:
            for o in containers:
                self.rt.stop(o)
            return
        errors: List[BaseException] = []

        def stop(o: Observed) -> None:
            try:
                self.rt.stop(o)
            except Exception as err:
                errors.append(err)

        threads = [threading.Thread(target=stop, args=(o,), daemon=True) for o in containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _on_done(self, key: PodKey, effects: List[tuple], error: Optional[Tuple[str, str]]) -> None:
        self.busy.pop(key, None)
        self._dirty_engine = True
        for effect in effects:
            if effect[0] == "streak":
                self.streaks[effect[1]] = effect[2]
        if error is None:
            self.errors.pop(key, None)
            return
        prev = self.errors.get(key)
        count = prev.count + 1 if prev else 1
        delay = min(60.0, 2.0 ** (count - 1))
        self.errors[key] = PodError(error[0], error[1], self.clock() + delay, count)

    # -- probes ---------------------------------------------------------------------------

    def _sync_probes(self, desired: Dict[PodKey, PodSpec]) -> None:
        """One ContainerProbes per running app container of a wanted pod."""
        live = set()
        now = self.clock()
        for o in self.observed:
            if not o.running or o.is_sandbox:
                continue
            spec = desired.get(o.key)
            if spec is None or spec.uid != o.uid:
                continue
            c = spec.container(o.container)
            if c is None or c.config_hash != o.config_hash:
                continue
            live.add(o.id)
            probe_specs = (c.startup, c.liveness, c.readiness)
            if o.id not in self.probes or self._probe_specs.get(o.id) != probe_specs:
                hint = self._ready_hints.pop(o.id, None)
                self.probes[o.id] = ContainerProbes(c, o.started_at or now, ready_hint=hint)
                self._probe_specs[o.id] = probe_specs
            self._probe_ip[o.id] = spec.ip
        for cid in list(self.probes):
            if cid not in live:
                del self.probes[cid]
                self._probe_specs.pop(cid, None)
                self._probe_ip.pop(cid, None)

    def _schedule_probes(self, now: float) -> None:
        for cid, p in self.probes.items():
            for t in p.due(now):
                t.begin(now)
                self.probe_pool.submit(self._probe_task, cid, t.kind, t.spec, self._probe_ip[cid])

    def _probe_task(self, cid: str, kind: str, spec, ip: str) -> None:
        ok, message = run_probe(spec, ip, cid, self.exec_prober)
        self.post("probe", cid, kind, spec, ok, message)

    def _on_probe(self, cid: str, kind: str, spec, ok: bool, message: str) -> bool:
        """Feed a probe outcome; True when it changed what the pod reports or needs."""
        p = self.probes.get(cid)
        t = p.trackers.get(kind) if p is not None else None
        if t is None or t.spec != spec:
            return False  # the container or its probe is gone
        changed = t.record(ok, self.clock(), message)
        if not ok and (changed or t.failures == 1):
            o = next((o for o in self.observed if o.id == cid), None)
            if o is not None:
                self.events.record(
                    o.namespace,
                    o.pod,
                    "Warning",
                    "Unhealthy",
                    "%s probe of %s failed: %s" % (kind, o.container, message),
                )
        return changed

    def _ready_of(self, o: Observed) -> bool:
        p = self.probes.get(o.id)
        return p.ready if p is not None else False

    # -- status ---------------------------------------------------------------------------

    def _publish(
        self, desired: Dict[PodKey, PodSpec], failed: Dict[PodKey, InvalidPod], d: Decision
    ) -> None:
        if not self._engine_seen:
            # Until the engine has answered once, keep serving what the previous agent
            # published rather than calling every pod Pending.
            _, pods = self.board.snapshot()
            self.board.publish(pods, False, self.engine_message)
            return
        by_key: Dict[PodKey, List[Observed]] = {}
        for o in self.observed:
            by_key.setdefault(o.key, []).append(o)
        pods = []
        for key, spec in desired.items():
            err = self.errors.get(key)
            error = (err.reason, err.message) if err else None
            if error is None and not (self.engine_ok and self.network_ok):
                error = ("NodeNotReady", self.engine_message)
            pods.append(
                pod_status(
                    spec, by_key.get(key, []), self._ready_of, d.waiting, error, key in self.busy
                )
            )
        for key, inv in failed.items():
            pods.append(invalid_status(inv))
            self._report_once(key, "Warning", inv.reason, inv.message)
        for key, seen in by_key.items():
            if key not in desired and key not in failed:
                pods.append(terminating_status(key, seen))
        for (key, name), (reason, message) in d.waiting.items():
            if reason == CRASH_LOOP:
                latest = max(
                    (o.attempt for o in by_key.get(key, []) if o.container == name), default=0
                )
                self._report_once((key, name, latest), "Warning", "BackOff", message, key)
        ready = self.engine_ok and self.network_ok
        if not ready:
            # Without an engine (no live-restore: a restarting engine stops every container)
            # nothing here can be vouched for: no endpoint of this node is ready.
            for p in pods:
                p["ready"] = False
                for c in p["containers"]:
                    c["ready"] = False
        self.board.publish(sort_pods(pods), ready, self.engine_message if not ready else "")

    def _report_once(self, ident: Any, type_: str, reason: str, message: str, key=None) -> None:
        token = (ident, reason, message)
        if token in self._reported:
            return
        if len(self._reported) > 10000:
            self._reported.clear()
        self._reported.add(token)
        ns, pod = key if key is not None else ident
        self.events.record(ns, pod, type_, reason, message)

    # -- memory across restarts -----------------------------------------------------------

    def _load_state(self) -> None:
        doc = self._memory
        ready = doc.get("ready") or {}
        if isinstance(ready, dict):
            self._ready_hints = {str(k): bool(v) for k, v in ready.items()}
        streaks = doc.get("streaks") or {}
        if isinstance(streaks, dict):
            for k, v in streaks.items():
                uid, _, name = str(k).partition("/")
                try:
                    self.streaks[(uid, name)] = int(v)
                except (TypeError, ValueError):
                    continue

    def _save_state(self, now: Optional[float] = None) -> None:
        """Write agent-state.json when it changed, at most once a second (and when stopping)."""
        if now is not None and now < self._last_save + SAVE_INTERVAL:
            self._save_due = self._last_save + SAVE_INTERVAL
            return
        self._save_due = None
        live_uids = {o.uid for o in self.observed}
        self.streaks = {k: v for k, v in self.streaks.items() if k[0] in live_uids}
        generation, pods = self.board.snapshot()
        doc = {
            "generation": generation,
            "pods": pods,
            "ready": {cid: p.ready for cid, p in self.probes.items()},
            "streaks": {"%s/%s" % k: v for k, v in sorted(self.streaks.items())},
        }
        text = json.dumps(doc, sort_keys=True)
        if text == self._saved_state:
            return
        self._saved_state = text
        self._last_save = self.clock()
        try:
            memory.save(self.cfg.state_dir, text)
        except OSError as err:
            log.warning("cannot save agent state: %s", err)

    # -- for the API ----------------------------------------------------------------------

    def find_container(
        self, namespace: str, pod: str, container: Optional[str], previous: bool = False
    ) -> Tuple[Optional[Observed], str]:
        """The container a logs request means, or (None, why not)."""
        seen = [o for o in self.observed if o.key == (namespace, pod) and not o.is_sandbox]
        if not seen:
            return None, "pod %s/%s has no containers on this node" % (namespace, pod)
        names = sorted({o.container for o in seen})
        if container is None:
            if len(names) > 1:
                return None, "pod %s/%s has containers %s: choose one with container=" % (
                    namespace,
                    pod,
                    ", ".join(names),
                )
            container = names[0]
        attempts = sorted(
            (o for o in seen if o.container == container and not o.never_started),
            key=lambda o: (o.uid == _current_uid(self.manifests, o.key), o.attempt),
        )
        if previous:
            attempts = attempts[:-1]
        if not attempts:
            return None, "pod %s/%s has no %scontainer %s" % (
                namespace,
                pod,
                "previous " if previous else "",
                container,
            )
        return attempts[-1], ""


def _stops(a: object) -> bool:
    """Whether an action waits for a running container to stop (up to its grace period)."""
    if isinstance(a, (RemovePod, StartPod)):
        containers = a.containers if isinstance(a, RemovePod) else a.replaces
        return any(o.running and not o.is_sandbox for o in containers)
    if isinstance(a, StartContainer):
        return a.stop_first is not None
    return isinstance(a, KillContainer)


def _current_uid(manifests: Dict[PodKey, Manifest], key: PodKey) -> str:
    m = manifests.get(key)
    return m.uid if m is not None else ""


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__
