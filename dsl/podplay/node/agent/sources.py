"""Where the pods wanted on this node come from: the manifest files Ansible writes to the
pods directory (`pods/<namespace>_<pod>.json`, one pod each).

A source reads its pods into `pods` (pod key -> parsed manifest, invalid ones included) and
never forgets them because a read failed. The agent merges its sources in one step
(`Agent._read_desired`), so another source of bound pods is one more object there.

Only regular files are read, and reading never blocks the loop: an entry is looked at with
`lstat` first; a FIFO (whose `open()` waits for a writer), a device, a socket, a directory or
a symlink leading out of the directory (or nowhere) is never opened and becomes a Failed pod
(`InvalidManifest`) naming the entry. A file is opened with O_NONBLOCK|O_NOFOLLOW and checked
again with `fstat` (an entry swapped between the two looks is caught), and at most
`MAX_MANIFEST_BYTES` of it is read. A symlink to a regular file inside the directory is read.
"""

from __future__ import annotations

import logging
import os
import stat
from typing import Dict, Optional, Tuple

from podplay.node.util.files import Stamp, stamp_of

from .manifest import INVALID_MANIFEST, InvalidPod, Manifest, key_from_filename, parse_manifest
from .observed import PodKey

log = logging.getLogger("podplay.agent")

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class NotARegularFile(Exception):
    """An entry that must not be read; the message says what it is."""


class ManifestDir:
    """The pods directory; a file is parsed again only when its stamp changed."""

    def __init__(self, path: str, pod_cidr: Optional[str]) -> None:
        self.path = path
        self.pod_cidr = pod_cidr
        self.pods: Dict[PodKey, Manifest] = {}
        self._cache: Dict[str, Tuple[Stamp, Manifest]] = {}

    def read(self) -> None:
        """Re-read the directory (an lstat per entry). When it cannot be listed, the pods read
        before stay: a failed read never removes pods."""
        try:
            names = sorted(os.listdir(self.path))
        except OSError as err:
            log.warning("cannot list %s: %s", self.path, err)
            return
        cache = {}
        for name in names:
            if key_from_filename(name) is None:
                continue
            entry = self._read_entry(name)
            if entry is not None:
                cache[name] = entry
        self._cache = cache
        self.pods = {m.key: m for _, m in cache.values()}

    def _read_entry(self, name: str) -> Optional[Tuple[Stamp, Manifest]]:
        path = os.path.join(self.path, name)
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                path, st = self._follow_inside(path)
            if not stat.S_ISREG(st.st_mode):
                raise NotARegularFile("not a regular file (%s)" % _kind(st.st_mode))
            stamp = stamp_of(st)
            cached = self._cache.get(name)
            if cached is not None and cached[0] == stamp:
                return cached
            return stamp, parse_manifest(name, _read_regular(path), self.pod_cidr)
        except NotARegularFile as err:
            return (0, 0, 0), self._refused(name, str(err))
        except OSError:
            return None  # removed while we looked

    def _follow_inside(self, link: str) -> Tuple[str, os.stat_result]:
        """The regular file a symlink leads to, if it lies in this directory."""
        target = os.path.realpath(link)
        if os.path.dirname(target) != os.path.realpath(self.path):
            raise NotARegularFile("a symlink to %s, outside the pods directory" % os.readlink(link))
        try:
            return target, os.lstat(target)
        except FileNotFoundError:
            why = "a symlink to %s, which does not exist" % os.readlink(link)
            raise NotARegularFile(why) from None

    def _refused(self, name: str, what: str) -> InvalidPod:
        key = key_from_filename(name) or ("", name)
        return InvalidPod(
            key[0],
            key[1],
            INVALID_MANIFEST,
            "%s: %s; the agent reads only regular files in %s" % (name, what, self.path),
            file=name,
        )


def _read_regular(path: str) -> bytes:
    """The bytes of a regular file, never blocking: whatever `path` became since it was
    looked at, what was opened is checked before anything is read."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile("not a regular file (%s)" % _kind(st.st_mode))
        if st.st_size > MAX_MANIFEST_BYTES:
            raise NotARegularFile(
                "%d bytes, larger than a manifest may be (%d)" % (st.st_size, MAX_MANIFEST_BYTES)
            )
        chunks = []
        left = MAX_MANIFEST_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > MAX_MANIFEST_BYTES:
            raise NotARegularFile("larger than a manifest may be (%d bytes)" % MAX_MANIFEST_BYTES)
        return data
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symlink"),
    )
    return next((what for test, what in kinds if test(mode)), "not a file")
