"""What the agent publishes: the pod status snapshot (with a generation that moves only when
something changed, so watchers get pushes, not polls) and a ring of recent events."""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Tuple


class StatusBoard:
    """The latest pod statuses; `wait_change` lets watchers block until the next change."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.generation = 0
        self.pods: List[Dict[str, Any]] = []
        self.node_ready = False
        self.node_message = "starting"
        self._key = ""

    def publish(self, pods: List[Dict[str, Any]], node_ready: bool, node_message: str) -> bool:
        """Replace the snapshot; True (and a new generation) when it differs from the last."""
        key = json.dumps([pods, node_ready, node_message], sort_keys=True)
        with self._cond:
            if key == self._key:
                return False
            self._key = key
            self.pods = pods
            self.node_ready = node_ready
            self.node_message = node_message
            self.generation += 1
            self._cond.notify_all()
            return True

    def restore(self, generation: Any, pods: Any, this_boot: bool = True) -> None:
        """Seed with what the previous agent published (served until the first real pass).
        Statuses saved before the node restarted (`this_boot` False) describe containers
        that are gone: they are served with every pod unready."""
        if isinstance(generation, int) and isinstance(pods, list):
            with self._cond:
                self.generation = generation
                self.pods = pods if this_boot else unready(pods)
                self.node_message = (
                    "agent restarting; statuses are from before the restart"
                    if this_boot
                    else "node restarted; statuses are from before the restart and no pod is "
                    "ready until it is seen running and passing its probes"
                )

    def mark_unready(self, node_message: str) -> None:
        """Every pod and the node unready now (from any thread); the next `publish` replaces
        this whatever it holds."""
        with self._cond:
            self.pods = unready(self.pods)
            self.node_ready = False
            self.node_message = node_message
            self._key = ""  # the next publish differs, even if it holds what was there before
            self.generation += 1
            self._cond.notify_all()

    def snapshot(self) -> Tuple[int, List[Dict[str, Any]]]:
        with self._cond:
            return self.generation, self.pods

    def wait_change(self, generation: int, timeout: float) -> int:
        """Block until the generation differs from `generation` or `timeout` passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.generation == generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.generation


def unready(pods: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Copies of pod statuses with the pod and each container not ready."""
    out = []
    for p in pods:
        if not isinstance(p, dict):
            continue
        q = dict(p, ready=False)
        containers = p.get("containers")
        if isinstance(containers, list):
            q["containers"] = [dict(c, ready=False) if isinstance(c, dict) else c
                               for c in containers]  # fmt: skip
        out.append(q)
    return out


class EventLog:
    """The last `size` events, as `/v1/events` serves them (thread-safe)."""

    def __init__(self, size: int = 1000) -> None:
        self._events: Deque[Dict[str, Any]] = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def record(
        self,
        namespace: str,
        pod: str,
        type_: str,
        reason: str,
        message: str,
        when: Optional[float] = None,
    ) -> None:
        t = time.time() if when is None else when
        event = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            + ".%03dZ" % (int(t * 1000) % 1000),
            "namespace": namespace,
            "pod": pod,
            "type": type_,
            "reason": reason,
            "message": message,
        }
        with self._lock:
            self._events.append(event)

    def list(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self._events)
