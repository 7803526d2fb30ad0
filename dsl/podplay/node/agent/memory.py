"""What the agent remembers across its own restarts: `<state_dir>/agent-state.json`.

The last published pod statuses and generation (a restarted agent serves them at once, so
watchers see no gap and no readiness flap), the readiness of each running container (so an
adopted container does not start unready), and crash-loop backoff streaks. Everything else
is found again on the engine, by label. Stdlib only: read before the Docker SDK is loaded.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from podplay.node.util.files import write_atomic

log = logging.getLogger("podplay.agent")

STATE_FILE = "agent-state.json"
SAVE_INTERVAL = 1.0  # seconds between two writes at most (the file is also written on stop)

StreakKey = Tuple[str, str]  # (pod uid, container name)


def state_path(state_dir: str) -> str:
    return os.path.join(state_dir, STATE_FILE)


def load(state_dir: str) -> Dict[str, Any]:
    """The saved state, or {} when there is none or it is unreadable."""
    try:
        with open(state_path(state_dir), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def save(state_dir: str, text: str) -> None:
    """Atomic write (temp file + rename), so a crash never leaves half a file; a file lost to
    a power cut only costs a readiness re-probe."""
    write_atomic(state_path(state_dir), text)


@dataclass(frozen=True)
class Recalled:
    """What the agent takes back from a saved state (what it does not understand, it drops)."""

    ready: Dict[str, bool] = field(default_factory=dict)  # container id -> ready
    streaks: Dict[StreakKey, int] = field(default_factory=dict)


def recall(doc: Mapping[str, Any]) -> Recalled:
    """Readiness hints and backoff streaks from a loaded state document."""
    ready = doc.get("ready") or {}
    hints = {str(k): bool(v) for k, v in ready.items()} if isinstance(ready, dict) else {}
    streaks: Dict[StreakKey, int] = {}
    saved = doc.get("streaks") or {}
    if isinstance(saved, dict):
        for k, v in saved.items():
            uid, _, name = str(k).partition("/")
            try:
                streaks[(uid, name)] = int(v)
            except (TypeError, ValueError):
                continue
    return Recalled(hints, streaks)


def state_text(
    generation: int,
    pods: Any,
    ready: Mapping[str, bool],
    streaks: Mapping[StreakKey, int],
) -> str:
    """agent-state.json's content (stable: an unchanged state gives the same text)."""
    doc = {
        "generation": generation,
        "pods": pods,
        "ready": dict(ready),
        "streaks": {"%s/%s" % k: v for k, v in sorted(streaks.items())},
    }
    return json.dumps(doc, sort_keys=True)


class StateWriter:
    """Writes the state when it changed, at most once every `SAVE_INTERVAL` seconds."""

    def __init__(self, state_dir: str, clock: Callable[[], float]) -> None:
        self.state_dir = state_dir
        self.clock = clock
        self.due: Optional[float] = None  # a write held back by the interval is due then
        self._last = 0.0
        self._written = ""

    def held_back(self, now: Optional[float]) -> bool:
        """Whether a write at `now` must wait (None: stopping, never wait)."""
        if now is not None and now < self._last + SAVE_INTERVAL:
            self.due = self._last + SAVE_INTERVAL
            return True
        self.due = None
        return False

    def write(self, text: str) -> None:
        if text == self._written:
            return
        self._written = text
        self._last = self.clock()
        try:
            save(self.state_dir, text)
        except OSError as err:
            log.warning("cannot save agent state: %s", err)
