"""What the agent's other threads tell its loop: one small frozen record per kind of news.

The manifest watcher, the store's binding table, the engine's event stream, the workers that
run actions and the probes only post these to the inbox; the loop thread alone changes the
agent's state (`Agent._handle`). Pure data: no behaviour, nothing to lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

from .manifest import ProbeSpec
from .observed import Observed, PodKey
from .reconcile import StreakKey


@dataclass(frozen=True)
class ManifestsChanged:
    """Something in the pods directory changed: read it again."""


@dataclass(frozen=True)
class BindingsChanged:
    """The store's binding table changed (or was read for the first time): look again."""


@dataclass(frozen=True)
class EngineChanged:
    """The engine changed: list the containers again; `images` (a new image, a network
    appeared or went, the event stream reconnected) re-reads images and networks too."""

    images: bool
    died: str = ""  # a container that just died: inspect it, the list lags a death


@dataclass(frozen=True)
class ActionsDone:
    """A worker finished one pod's batch of actions."""

    key: PodKey
    streaks: Tuple[Tuple[StreakKey, int], ...] = ()  # backoff streaks of restarted containers
    error: Optional[Tuple[str, str]] = None  # (reason, message) when an action failed
    # The containers the batch started, when starting them is all it changed: the loop adds
    # them to its view (and probes them) at once instead of listing the engine again.
    # Empty: the engine must be looked at again.
    started: Tuple[Observed, ...] = ()


@dataclass(frozen=True)
class ProbeResult:
    """One probe run of one container came back."""

    container_id: str
    kind: str  # startup | liveness | readiness
    spec: ProbeSpec  # the probe as it was run (a changed probe makes the result stale)
    ok: bool
    message: str


@dataclass(frozen=True)
class Stop:
    """Wake the loop so that it sees it is stopping."""


Message = Union[ManifestsChanged, BindingsChanged, EngineChanged, ActionsDone, ProbeResult, Stop]
