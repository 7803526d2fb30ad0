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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from podplay.errors import UserInputError

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


WRITERS = 8  # files written at once: each waits for its own fsync, not for the others'
PRIVATE_MODE = 0o600  # rendered files that carry the program's env values (issue 12, item 8)


def is_private(rel: str) -> bool:
    """The rendered plan and the nodes' host_vars hold env values: owner only. The
    playbooks, inventory and group_vars hold none of the program's values (umask applies)."""
    return rel == "plan.json" or rel.startswith("host_vars/")


def write_tree(out: Path, files: dict[str, str], symlinks: dict[str, str]) -> None:
    """Write rendered files (unchanged ones untouched) and links; drop stale host_vars.

    What `podplay compile` and `up`'s build directory write (`podplay.render` output): one
    file per node, so the files are written by a few threads at once (a new 100-node
    project: 0.07-0.11 s instead of 0.25-0.5 s here, each file still on disk before it
    replaces the old one)."""
    out.mkdir(parents=True, exist_ok=True)
    stale = out / "host_vars"
    if stale.is_dir():
        for old in stale.glob("*.yml"):
            if f"host_vars/{old.name}" not in files:
                old.unlink()
    for directory in {(out / rel).parent for rel in files}:
        directory.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(lambda item: _write_if_changed(out, *item), files.items()))
    for rel, dest in symlinks.items():
        link = out / rel
        if link.is_symlink() and os.readlink(link) == dest:
            continue
        if link.exists() and not link.is_symlink():
            raise UserInputError(f"{link} exists and is not a link podplay made; remove it")
        if link.is_symlink():
            link.unlink()
        link.symlink_to(dest, target_is_directory=True)


def _write_if_changed(out: Path, rel: str, text: str) -> None:
    """Write `rel` unless it holds `text` already; either way it ends with its mode (a file
    an older podplay wrote world-readable is made private, not rewritten)."""
    target = out / rel
    private = is_private(rel)
    try:
        if target.read_text(encoding="utf-8") == text:
            if private and target.stat().st_mode & 0o777 != PRIVATE_MODE:
                target.chmod(PRIVATE_MODE)
            return
    except OSError:
        pass
    write_atomic(target, text, mode=PRIVATE_MODE if private else DEFAULT_MODE)
