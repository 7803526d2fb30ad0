"""`files apply pods`: make a node's pod manifest directory exactly the given set of pods.

Desired state on stdin: `{"pods": [<pod manifest>, ...], "path": optional}`. Each pod is
checked by the contract (the agent's own parser) and written as given, as
`<namespace>_<name>.json` in canonical text (same pod, same bytes), so an unchanged set
rewrites nothing; files of pods no longer bound to this node are removed, and the agent stops
those pods. (The planner's manifests are the contract's canonical documents already: the
contract test checks that they round-trip.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Any, Dict, List, Tuple

from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.fields import DNS_LABEL
from podplay.node.contract.jsontext import canonical_text
from podplay.node.contract.pods import PodSpec, key_from_filename, manifest_filename
from podplay.node.files.changes import ApplyError
from podplay.node.util.files import write_atomic

Files = Dict[str, str]  # file name -> text


def manifest_files(pods: Any) -> Files:
    """{file name: text} for the pods; ContractError naming the bad pod."""
    if not isinstance(pods, list):
        raise ContractError("pods: expected a list of pod manifests")
    out: Files = {}
    for i, pod in enumerate(pods):
        if not isinstance(pod, dict):
            raise ContractError("pods[%d]: expected a pod manifest (a mapping)" % i)
        ns, name = pod.get("namespace"), pod.get("name")
        for field, value in (("namespace", ns), ("name", name)):
            if not isinstance(value, str) or not DNS_LABEL.match(value) or len(value) > 63:
                raise ContractError(
                    "pods[%d].%s: %r is not a DNS label (lowercase letters, digits, '-')"
                    % (i, field, value)
                )
        fname = manifest_filename(ns, name)
        if fname in out:
            raise ContractError("pods[%d]: pod %s/%s is listed twice" % (i, ns, name))
        PodSpec.from_json(pod, "pods[%d]" % i)  # what the agent will read, checked now
        out[fname] = canonical_text(pod)
    return out


def plan(current: Files, desired: Files) -> Tuple[List[str], List[str]]:
    """What to do: (names to write, names to remove), both sorted. Pure."""
    write = sorted(n for n, text in desired.items() if current.get(n) != text)
    remove = sorted(n for n in current if n not in desired)
    return write, remove


def read_dir(path: str) -> Files:
    """{file name: text} of the manifest files in `path` ({} when it does not exist)."""
    out: Files = {}
    try:
        names = os.listdir(path)
    except OSError:
        return out
    for name in names:
        if key_from_filename(name) is None:
            continue
        try:
            with open(os.path.join(path, name), "rb") as f:
                out[name] = f.read().decode("utf-8", "replace")
        except OSError:
            continue
    return out


def loose_modes(path: str, names: Files) -> List[str]:
    """Manifests already there whose mode is not PRIVATE_FILE_MODE (an older bundle wrote
    them 0644): written again, so they end private."""
    loose = []
    for name in names:
        try:
            mode = os.lstat(os.path.join(path, name)).st_mode & 0o777
        except OSError:
            continue
        if mode != defaults.PRIVATE_FILE_MODE:
            loose.append(name)
    return loose


def apply(path: str, desired: Files, write: List[str], remove: List[str]) -> None:
    """Write and remove files (each write is temp file + rename, so readers see whole files)."""
    os.makedirs(path, 0o755, exist_ok=True)
    for name in write:
        write_atomic(os.path.join(path, name), desired[name], defaults.PRIVATE_FILE_MODE)
    for name in remove + _leftovers(path):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(path, name))


def listing(files: Files) -> str:
    """One line per file with a short content hash: the diff's before/after."""
    return "".join(
        "%s  %s\n" % (name, hashlib.sha256(text.encode("utf-8")).hexdigest()[:12])
        for name, text in sorted(files.items())
    )


def apply_pods(desired: Dict[str, Any], check: bool, diff: bool) -> Dict[str, Any]:
    path = desired.get("path") or defaults.PODS_DIR
    wanted = manifest_files(desired.get("pods", []))
    current = read_dir(path)
    write, remove = plan(current, wanted)
    write = sorted(set(write) | set(loose_modes(path, wanted)))
    changed = bool(write or remove)
    result: Dict[str, Any] = {
        "changed": changed,
        "written": write,
        "removed": remove,
        "pods": len(wanted),
    }
    if diff and changed:
        result["diff"] = {
            "before_header": path,
            "after_header": path,
            "before": listing(current),
            "after": listing(wanted),
        }
    if changed and not check:
        try:
            apply(path, wanted, write, remove)
        except OSError as err:
            raise ApplyError("writing %s: %s" % (path, err)) from None
    return result


def _leftovers(path: str) -> List[str]:
    """Temporary files of an interrupted earlier run."""
    try:
        return sorted(
            n for n in os.listdir(path) if n.startswith(".podplay-") and n.endswith(".tmp")
        )
    except OSError:
        return []
