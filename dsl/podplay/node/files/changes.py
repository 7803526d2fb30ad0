"""A set of desired files compared with the disk, changed only where they differ."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from podplay.node.util.files import write_atomic

ABSENT = "(absent)"


class ApplyError(RuntimeError):
    """The files cannot be written as asked (the message says why)."""


@dataclass(frozen=True)
class Wanted:
    """One file as it should be: `text` None means the file must not exist."""

    path: str
    text: Optional[str]
    mode: int = 0o644
    secret: bool = False  # never shown in a diff (the API token, a private key)
    owner: Optional[Tuple[int, int]] = None  # (uid, gid); None: whoever writes it


@dataclass(frozen=True)
class Change:
    wanted: Wanted
    before: Optional[str]  # the file's text now (None: absent)


def read_text(path: str) -> Optional[str]:
    """The file's text, or None when it does not exist or cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def file_mode(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def file_owner(path: str) -> Optional[Tuple[int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_uid, st.st_gid)


def plan(files: Sequence[Wanted]) -> List[Change]:
    """The files that differ from what is wanted (content, mode, owner, or presence)."""
    out = []
    for wanted in files:
        before = read_text(wanted.path)
        if wanted.text is None:
            differs = before is not None
        else:
            differs = before != wanted.text or file_mode(wanted.path) != wanted.mode
            differs = differs or (
                wanted.owner is not None and file_owner(wanted.path) != wanted.owner
            )
        if differs:
            out.append(Change(wanted, before))
    return out


def apply(changes: Sequence[Change]) -> None:
    for change in changes:
        wanted = change.wanted
        if wanted.text is None:
            if os.path.lexists(wanted.path):
                os.unlink(wanted.path)
        else:
            write_atomic(wanted.path, wanted.text, wanted.mode)
            if wanted.owner is not None:
                os.chown(wanted.path, wanted.owner[0], wanted.owner[1])


def converge(files: Sequence[Wanted], check: bool) -> List[Change]:
    """Plan, and apply unless `check`; returns the changes (made, or due)."""
    changes = plan(files)
    if not check:
        apply(changes)
    return changes


def diffs(changes: Sequence[Change]) -> List[Dict[str, Any]]:
    """Ansible's diff entries, one per changed file (secrets left out)."""
    return [
        {
            "before_header": c.wanted.path,
            "after_header": c.wanted.path if c.wanted.text is not None else ABSENT,
            "before": c.before or "",
            "after": c.wanted.text or "",
        }
        for c in changes
        if not c.wanted.secret
    ]


def changed_paths(changes: Sequence[Change]) -> List[str]:
    return [c.wanted.path for c in changes]
