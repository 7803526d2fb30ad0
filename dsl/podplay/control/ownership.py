"""Which stack a cluster belongs to: one cluster, one stack.

Every converge makes a node run exactly the pods of the plan it is given (the pod manifests
are exclusive), so a second program or `--stack` aimed at a cluster that another stack has
applied to would silently replace that app's pods with its own. `up` records the stack that
applies to a cluster (`<home>/clusters/<name>/stack.json`, beside the cluster's secrets) and
`up`, `preview` and `destroy` of any other stack are refused while that stack is still
applied (its state still holds a plan). `destroy` releases the cluster.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from podplay import paths
from podplay.errors import UserInputError
from podplay.files import write_json_atomic

OWNER = "stack.json"


def owner_path(cluster: str) -> Path:
    return paths.cluster_dir(cluster) / OWNER


def owner(cluster: str) -> dict[str, Any] | None:
    """The stack recorded for `cluster`, if it is still applied (or being applied)."""
    try:
        data = json.loads(owner_path(cluster).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "state" not in data:
        return None
    state = Path(str(data["state"]))
    if not any((state / name).is_file() for name in ("plan.json", "journal.json")):
        return None
    return data


def check(cluster: str, state_dir: Path, program: str) -> None:
    """Refuse (exit 2) when another stack that is still applied owns `cluster`."""
    found = owner(cluster)
    if found is None or Path(found["state"]) == state_dir.resolve():
        return
    other = found.get("program") or "another program"
    raise UserInputError(
        f"cluster {cluster} runs stack {found.get('stack')} of {other} (state in "
        f"{found['state']}); applying {program} to it would replace that app's pods: "
        f"destroy it first (`podplay destroy {other} --keep-cluster`) or give this "
        "program's Cluster another name"
    )


def claim(cluster: str, state_dir: Path, program: str) -> None:
    """Record that the stack in `state_dir` applies to `cluster`."""
    record = {
        "stack": state_dir.name,
        "state": str(state_dir.resolve()),
        "program": str(Path(program).resolve()),
    }
    path = owner_path(cluster)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")) == record:
            return
    write_json_atomic(path, record)


def release(cluster: str, state_dir: Path) -> None:
    """Forget the owner of `cluster` when it is the stack in `state_dir`."""
    path = owner_path(cluster)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if Path(json.loads(path.read_text(encoding="utf-8"))["state"]) == state_dir.resolve():
            path.unlink()
