"""What the agent remembers across its own restarts: `<state_dir>/agent-state.json`.

The last published pod statuses and generation (a restarted agent serves them at once, so
watchers see no gap and no readiness flap), the readiness of each running container (so an
adopted container does not start unready), and crash-loop backoff streaks. Everything else
is found again on the engine, by label. Stdlib only: read before the Docker SDK is loaded.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from podplay.node.util.files import write_atomic

STATE_FILE = "agent-state.json"


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
