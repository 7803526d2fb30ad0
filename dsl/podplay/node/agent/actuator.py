"""Carrying out the decision: each pod's actions run in order on a worker thread, pods in
parallel; the outcome goes back to the loop as an `ActionsDone` message.

What the actuator remembers between passes is what the decision needs back: which pods
have actions in flight (`busy`), the last failure of each pod and when to retry it
(`errors`: 1 s, 2 s, 4 s ... 60 s), and each container's crash-loop streak (`streaks`).
It changes them only on the loop thread (`on_done`); workers just post.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from docker.errors import DockerException

from podplay.node.util.backoff import exponential_delay

from .board import EventLog
from .messages import ActionsDone, Message
from .observed import Observed, PodKey
from .reconcile import (
    Action,
    KillContainer,
    RemoveContainers,
    RemovePod,
    StartContainer,
    StartPod,
    StreakKey,
)
from .runtime import DockerRuntime, RuntimeError_, short_error

log = logging.getLogger("podplay.agent")

ERROR_RETRY_MIN, ERROR_RETRY_MAX = 1.0, 60.0  # a pod whose action failed is retried after
STOPPERS = 16


@dataclass
class PodError:
    """The last failed action of a pod: reported in its status until it is retried."""

    reason: str
    message: str
    retry_at: float
    count: int  # failures in a row


class Actuator:
    """Runs actions against the runtime; `post` carries results back to the loop."""

    def __init__(
        self,
        runtime: DockerRuntime,
        events: EventLog,
        post: Callable[[Message], None],
        clock: Callable[[], float],
        workers: int,
        streaks: Optional[Dict[StreakKey, int]] = None,
    ) -> None:
        self.rt = runtime
        self.events = events
        self.post = post
        self.clock = clock
        self.workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pod")
        # Stopping mostly waits (up to a grace period): its own pool, so that pods being
        # stopped never hold up pods being started (a rollout does both at once).
        self.stoppers = ThreadPoolExecutor(max_workers=STOPPERS, thread_name_prefix="stop")
        self.busy: Dict[PodKey, str] = {}  # pod -> its last action in flight
        self.errors: Dict[PodKey, PodError] = {}
        self.streaks: Dict[StreakKey, int] = dict(streaks or {})

    def retry_at(self) -> Mapping[PodKey, float]:
        """When each pod whose action failed may be tried again."""
        return {k: e.retry_at for k, e in self.errors.items()}

    def dispatch(self, actions: List[Action]) -> None:
        """One batch per pod, in order; batches that stop containers go to their own pool."""
        batches: Dict[PodKey, List[Action]] = {}
        for a in actions:
            batches.setdefault(a.key, []).append(a)  # type: ignore[attr-defined]
        for key, batch in batches.items():
            self.busy[key] = type(batch[-1]).__name__
            pool = self.stoppers if any(_stops(a) for a in batch) else self.workers
            pool.submit(self.execute, key, batch)

    def execute(self, key: PodKey, actions: List[Action]) -> None:
        """Worker thread: run one pod's actions in order; report back to the loop."""
        streaks: List[Tuple[StreakKey, int]] = []
        started: List[Observed] = []
        error: Optional[Tuple[str, str]] = None
        try:
            # containers being replaced stop together (each within its grace period)
            replaced = [
                a.stop_first
                for a in actions
                if isinstance(a, StartContainer) and a.stop_first is not None
            ]
            if len(replaced) > 1:
                self.stop_all(replaced)
            for a in actions:
                self.apply(a, streaks, started)
        except RuntimeError_ as err:
            error = (err.reason, str(err))
        except (DockerException, OSError) as err:
            error = ("RuntimeError", short_error(err))
        except Exception as err:  # never let a worker die silently
            log.exception("action on %s/%s failed", key[0], key[1])
            error = ("AgentError", short_error(err))
        if error is not None:
            self.events.record(key[0], key[1], "Warning", error[0], error[1])
        only_starts = error is None and all(_only_starts(a) for a in actions)
        self.post(ActionsDone(key, tuple(streaks), error, tuple(started) if only_starts else ()))

    def on_done(self, done: ActionsDone) -> None:
        """Loop thread: the pod is free again; record its streaks, or its failure."""
        key = done.key
        self.busy.pop(key, None)
        self.streaks.update(done.streaks)
        if done.error is None:
            self.errors.pop(key, None)
            return
        prev = self.errors.get(key)
        count = prev.count + 1 if prev else 1
        delay = exponential_delay(count, ERROR_RETRY_MIN, ERROR_RETRY_MAX)
        self.errors[key] = PodError(done.error[0], done.error[1], self.clock() + delay, count)

    def forget_streaks(self, live_uids: set) -> None:
        """Streaks of pods whose containers are all gone will never be needed again."""
        self.streaks = {k: v for k, v in self.streaks.items() if k[0] in live_uids}

    def shutdown(self) -> None:
        """Stop taking work; actions in flight finish on their own (pods outlive the agent)."""
        self.workers.shutdown(wait=False)
        self.stoppers.shutdown(wait=False)

    # -- one action -----------------------------------------------------------------------

    def apply(
        self,
        a: Action,
        streaks: List[Tuple[StreakKey, int]],
        started: Optional[List[Observed]] = None,
    ) -> None:
        """Carry out one action; a restart adds the container's new streak to `streaks`, and
        every container started is added to `started` (as the engine would list it)."""
        started = [] if started is None else started
        if isinstance(a, RemovePod):
            self._remove_pod(a)
        elif isinstance(a, StartPod):
            self._start_pod(a, started)
        elif isinstance(a, StartContainer):
            self._start_container(a, started)
            if a.streak is not None:
                streaks.append(((a.spec.uid, a.container.name), a.streak))
        elif isinstance(a, KillContainer):
            self._event(
                a.key, "Warning", "Killing", "container %s: %s" % (a.container.container, a.reason)
            )
            self.rt.stop(a.container)
        elif isinstance(a, RemoveContainers):
            for o in a.containers:
                if o.running and not o.is_sandbox:
                    self.rt.stop(o)
                self.rt.remove(o)

    def _remove_pod(self, a: RemovePod) -> None:
        self._event(a.key, "Normal", "Killing", "stopping pod (%s)" % a.reason)
        self.stop_all([o for o in a.containers if o.running and not o.is_sandbox])
        for o in a.containers:
            self.rt.remove(o)

    def _started(self, cid: str, started: List[Observed]) -> None:
        o = self.rt.started(cid)
        if o is not None:
            started.append(o)

    def _start_pod(self, a: StartPod, started: List[Observed]) -> None:
        """Stop what the pod had, then a new sandbox and every app container in it."""
        if a.replaces:
            self._event(
                a.key, "Normal", "SandboxChanged", "pod will be started afresh (%s)" % a.reason
            )
        self.stop_all([o for o in a.replaces if o.running and not o.is_sandbox])
        for o in a.replaces:
            if o.id not in a.keep:
                self.rt.remove(o)
        sid = self.rt.create_sandbox(a.spec, a.sandbox_attempt)
        self._started(sid, started)
        self._event(
            a.key, "Normal", "SandboxStarted", "sandbox %s with IP %s" % (sid[:12], a.spec.ip)
        )
        for name, attempt in a.attempts:
            c = a.spec.container(name)
            if c is None:
                continue
            cid = self.rt.run_container(a.spec, c, attempt, sid)
            self._started(cid, started)
            self._event(a.key, "Normal", "Started", "container %s started (%s)" % (name, cid[:12]))

    def _start_container(self, a: StartContainer, started: List[Observed]) -> None:
        name = a.container.name
        if a.stop_first is not None:
            self._event(a.key, "Normal", "Killing", "container %s: %s" % (name, a.reason))
            self.rt.stop(a.stop_first)
        cid = self.rt.run_container(a.spec, a.container, a.attempt, a.sandbox_id)
        self._started(cid, started)
        self._event(
            a.key, "Normal", "Started", "container %s started (%s, %s)" % (name, cid[:12], a.reason)
        )

    def _event(self, key: PodKey, type_: str, reason: str, message: str) -> None:
        self.events.record(key[0], key[1], type_, reason, message)

    def stop_all(self, containers: List[Observed]) -> None:
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


def _only_starts(a: Action) -> bool:
    """Whether an action only adds running containers (nothing stopped or removed), so the
    loop's view can be patched with them rather than read again."""
    if isinstance(a, StartPod):
        return not a.replaces
    return isinstance(a, StartContainer) and a.stop_first is None


def _stops(a: Action) -> bool:
    """Whether an action waits for a running container to stop (up to its grace period)."""
    if isinstance(a, (RemovePod, StartPod)):
        containers = a.containers if isinstance(a, RemovePod) else a.replaces
        return any(o.running and not o.is_sandbox for o in containers)
    if isinstance(a, StartContainer):
        return a.stop_first is not None
    return isinstance(a, KillContainer)
