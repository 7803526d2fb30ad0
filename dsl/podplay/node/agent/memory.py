"""What the agent remembers across its own restarts: `<state_dir>/agent-state.json`.

The last published pod statuses and generation (a restarted agent serves them at once, so
watchers see no gap and no readiness flap), the readiness of each running container (so an
adopted container does not start unready), and crash-loop backoff streaks. Everything else
is found again on the engine, by label. Stdlib only: read before the Docker SDK is loaded.

Readiness is remembered for a restart of the agent, never of the node: the file records the
boot it was written in (`Boot.id`), and a state from another boot is served with every pod
unready and gives no readiness hints (its containers are gone; the new ones are ready once
seen running and passing their probes). The kernel's boot id alone does not tell: a node
container restarted on the same host keeps it; its PID 1 is new, so the id is both.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from podplay.node.contract import defaults
from podplay.node.util.files import write_atomic

log = logging.getLogger("podplay.agent")

STATE_FILE = "agent-state.json"
SAVE_INTERVAL = 1.0  # seconds between two writes at most (the file is also written on stop)

StreakKey = Tuple[str, str]  # (pod uid, container name)


def state_path(state_dir: str) -> str:
    return os.path.join(state_dir, STATE_FILE)


@dataclass(frozen=True)
class Boot:
    """This boot of the node. `id`: the kernel's boot id and the start of PID 1 (in clock
    ticks since the kernel booted); `started_at`: when PID 1 started (epoch seconds)."""

    id: str
    started_at: Optional[float] = None


def this_boot(proc: str = "/proc") -> Boot:
    """The node's current boot ("" / None for what cannot be read)."""
    kernel = _read(os.path.join(proc, "sys/kernel/random/boot_id")).strip()
    stat = _read(os.path.join(proc, "1/stat"))
    ticks = stat.rsplit(")", 1)[-1].split()[19:20] if ")" in stat else []
    if not kernel or not ticks:
        return Boot("")
    started_at = None
    for line in _read(os.path.join(proc, "stat")).splitlines():
        if line.startswith("btime "):
            hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
            started_at = int(line.split()[1]) + int(ticks[0]) / hz
    return Boot("%s/%s" % (kernel, ticks[0]), started_at)


def from_this_boot(doc: Mapping[str, Any], boot: Boot) -> bool:
    """Whether a loaded state was written since the node last started. A state that does not
    say (written by an older agent) is judged by its file's time against PID 1's start."""
    saved = doc.get("boot")
    if isinstance(saved, str) and saved and boot.id:
        return saved == boot.id
    written = doc.get("written_at")
    return (
        isinstance(written, (int, float))
        and boot.started_at is not None
        and written > boot.started_at
    )


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def load(state_dir: str) -> Dict[str, Any]:
    """The saved state, or {} when there is none or it is unreadable; `written_at` is the
    file's modification time."""
    path = state_path(state_dir)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        written_at = os.stat(path).st_mtime
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    doc["written_at"] = written_at
    return doc


def save(state_dir: str, text: str) -> None:
    """Atomic write (temp file + rename), so a crash never leaves half a file; a file lost to
    a power cut only costs a readiness re-probe."""
    write_atomic(state_path(state_dir), text, defaults.PRIVATE_FILE_MODE)


@dataclass(frozen=True)
class Recalled:
    """What the agent takes back from a saved state (what it does not understand, it drops)."""

    ready: Dict[str, bool] = field(default_factory=dict)  # container id -> ready
    streaks: Dict[StreakKey, int] = field(default_factory=dict)


def recall(doc: Mapping[str, Any], boot: Optional[Boot] = None) -> Recalled:
    """Readiness hints and backoff streaks from a loaded state document; readiness only
    when the state is from this boot (`boot` None: not checked)."""
    ready = doc.get("ready") or {}
    hints = {str(k): bool(v) for k, v in ready.items()} if isinstance(ready, dict) else {}
    if boot is not None and not from_this_boot(doc, boot):
        hints = {}
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
    boot: str = "",
) -> str:
    """agent-state.json's content (stable: an unchanged state gives the same text)."""
    doc = {
        "boot": boot,
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
