"""Publishing a pass: the node's pod statuses to the board (what the API serves and
watchers receive), and the warnings worth an event, each recorded once.

The statuses themselves are built by `status` (pure); this module decides what to do
before the engine has answered once, and keeps the events from repeating every pass.
"""

from __future__ import annotations

from typing import AbstractSet, Any, Dict, Mapping, Optional, Sequence, Set, Tuple

from .board import EventLog, StatusBoard
from .manifest import InvalidPod, PodSpec
from .observed import Observed, PodKey
from .reconcile import CRASH_LOOP, Decision
from .status import ReadyOf, node_pods

REPORTED_MAX = 10000  # events remembered as already recorded (then forgotten all at once)


class Publisher:
    def __init__(self, board: StatusBoard, events: EventLog) -> None:
        self.board = board
        self.events = events
        self._reported: Set[Tuple[Any, str, str]] = set()  # (what, reason, message)

    def keep_previous(self, node_message: str) -> None:
        """Until the engine has answered once, keep serving what the previous agent
        published rather than calling every pod Pending."""
        _, pods = self.board.snapshot()
        self.board.publish(pods, False, node_message)

    def publish(
        self,
        desired: Mapping[PodKey, PodSpec],
        failed: Mapping[PodKey, InvalidPod],
        observed: Sequence[Observed],
        decision: Decision,
        ready_of: ReadyOf,
        errors: Mapping[PodKey, Tuple[str, str]],
        busy: AbstractSet[PodKey],
        node_problem: Optional[str],
    ) -> None:
        """Statuses of every pod to the board; `node_problem` (None: the node can run pods)
        makes the node and every pod not ready."""
        pods = node_pods(
            desired, failed, observed, ready_of, decision.waiting, errors, busy, node_problem
        )
        for key, inv in failed.items():
            self._report_once(key, "Warning", inv.reason, inv.message)
        self._report_crash_loops(observed, decision)
        ready = node_problem is None
        self.board.publish(pods, ready, node_problem or "")

    def _report_crash_loops(self, observed: Sequence[Observed], decision: Decision) -> None:
        """One BackOff event per attempt that waits (not one per pass)."""
        attempts: Dict[Tuple[PodKey, str], int] = {}
        for o in observed:
            slot = (o.key, o.container)
            attempts[slot] = max(attempts.get(slot, 0), o.attempt)
        for (key, name), (reason, message) in decision.waiting.items():
            if reason == CRASH_LOOP:
                latest = attempts.get((key, name), 0)
                self._report_once((key, name, latest), "Warning", "BackOff", message, key)

    def _report_once(
        self, ident: Any, type_: str, reason: str, message: str, key: Optional[PodKey] = None
    ) -> None:
        token = (ident, reason, message)
        if token in self._reported:
            return
        if len(self._reported) > REPORTED_MAX:
            self._reported.clear()
        self._reported.add(token)
        ns, pod = key if key is not None else ident
        self.events.record(ns, pod, type_, reason, message)
