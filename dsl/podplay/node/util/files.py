"""One way to replace a file on a node: a reader never sees half of it, a secret is never
readable by others (the mode is set before any content is written)."""

from __future__ import annotations

import os
import tempfile
from typing import Union


def write_atomic(path: str, data: Union[str, bytes], mode: int = 0o644) -> None:
    """Temp file in the same directory (mode first), fsync, rename over `path`."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".podplay-", suffix=".tmp", dir=directory)
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
