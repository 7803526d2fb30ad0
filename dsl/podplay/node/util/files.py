"""Writing files that other processes read while they change."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Union


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
