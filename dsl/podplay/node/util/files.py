"""Files that other processes change while we read them, or read while we change them."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Optional, Tuple, Union

Stamp = Tuple[int, int, int]  # mtime_ns, size, inode: a file that changed has a new one


def stamp_of(st: os.stat_result) -> Stamp:
    """What tells that a file changed without reading it. The inode is in it because a file
    replaced by a rename (write_atomic) may keep its size and, within one tick, its mtime."""
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def file_stamp(path: str) -> Optional[Stamp]:
    """The stamp of the file at `path`; None when it cannot be looked at (gone, no access)."""
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return None


def write_atomic(path: str, data: Union[bytes, str], mode: int = 0o644) -> None:
    """Temp file in the same directory, then rename: a reader sees the old file or the new
    one, never half of one. The mode is set before any content is written, so a secret is
    never readable by others. Text is written as UTF-8. No fsync: under a burst of container
    starts the disk is busy and an fsync can take seconds; what a power cut loses, the next
    agent pass or Ansible run writes again."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".podplay-", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
