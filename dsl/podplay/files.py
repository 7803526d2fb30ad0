"""Files written whole on the machine that runs podplay: readers see the old file or the new one.

Everything the controller side writes that another process (or a crash) could catch half
written goes through here: a stack's state and journal, the build directory's Ansible files,
a cluster's inventory, the node bundle and image archives in the cache. The bytes go to a
temporary file beside the target, reach the disk (fsync), and the temporary file is renamed
over the target, which is atomic within one filesystem. A failed write leaves no temporary
file behind. (The node side ships alone and has its own: `podplay.node`.)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

DEFAULT_MODE = 0o666  # as open() creates files: the umask applies


@contextlib.contextmanager
def atomic_output(path: Path, *, mode: int = DEFAULT_MODE) -> Iterator[IO[bytes]]:
    """A binary file to write `path` through; it replaces `path` when the block ends without
    an exception (and is removed when it raises). `mode` is applied through the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _temporary(path, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_directory(path.parent)


def write_atomic(path: Path, data: str | bytes, *, mode: int = DEFAULT_MODE) -> None:
    """Write `data` (text is UTF-8) to `path` whole."""
    with atomic_output(path, mode=mode) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_json_atomic(path: Path, data: Any, *, mode: int = 0o600) -> None:
    """Write `data` as indented JSON with sorted keys (state files: owner-only by default,
    a plan carries the program's environment values)."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=mode)


def _temporary(path: Path, mode: int) -> tuple[str, int]:
    """A new file beside `path` (same filesystem, so the rename is atomic), hidden by a dot."""
    while True:
        tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"))
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue


def _sync_directory(directory: Path) -> None:
    """The rename itself reaches the disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
