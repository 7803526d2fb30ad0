"""Notice changes in the manifest directory within a second: inotify (via ctypes), or a
cheap poll of names, sizes and mtimes where inotify is not available.

The callback only says "something changed"; the agent re-reads the directory (and parses
only files whose signature changed), so a missed or merged event costs nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import select
import threading
from typing import Callable, Dict, Optional, Tuple

from podplay.node.util.files import stamp_of

log = logging.getLogger("podplay.agent.watcher")

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)

Signature = Dict[str, Tuple[int, int, int]]  # name -> (mtime_ns, size, inode)


def signature(path: str) -> Signature:
    """What the poller compares: every file's mtime, size and inode."""
    out: Signature = {}
    try:
        names = os.listdir(path)
    except OSError:
        return out
    for name in names:
        try:
            st = os.stat(os.path.join(path, name))
        except OSError:
            continue
        out[name] = stamp_of(st)
    return out


def _inode(path: str) -> Optional[Tuple[int, int]]:
    """(device, inode) of a directory, None when it is not there: a watch follows an inode,
    so a directory replaced under the same name must be watched again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class Inotify:
    """The three inotify calls we need, through libc."""

    def __init__(self) -> None:
        libname = ctypes.util.find_library("c") or "libc.so.6"
        self._libc = ctypes.CDLL(libname, use_errno=True)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd = fd

    def add_watch(self, path: str, mask: int = MASK) -> int:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, "inotify_add_watch %s: %s" % (path, os.strerror(err)))
        return wd

    def drain(self) -> bool:
        """Read pending events; True when there were any."""
        got = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return got
            except OSError:
                return got
            if not data:
                return got
            got = True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class DirWatcher:
    """Calls `on_change()` (from its own thread) when anything in `path` changes."""

    def __init__(
        self,
        path: str,
        on_change: Callable[[], None],
        poll_interval: float = 0.5,
        use_inotify: bool = True,
    ) -> None:
        self.path = path
        self.on_change = on_change
        self.poll_interval = poll_interval
        self.use_inotify = use_inotify
        self.mode = ""
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "DirWatcher":
        self._thread = threading.Thread(target=self._run, name="manifest-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.use_inotify:
                try:
                    self._run_inotify()
                    continue
                except OSError as err:
                    log.warning("inotify unavailable (%s); polling %s", err, self.path)
                    self.use_inotify = False
            self._run_poll()

    def _run_inotify(self) -> None:
        ino = Inotify()
        self.mode = "inotify"
        try:
            watched = _inode(self.path)
            ino.add_watch(self.path)
            self.on_change()  # anything that changed before the watch existed
            while not self._stop.is_set():
                ready, _, _ = select.select([ino.fd], [], [], 0.5)
                if ready and ino.drain():
                    self.on_change()
                if _inode(self.path) != watched:  # directory gone or replaced: watch anew
                    if watched is None:
                        self._stop.wait(0.5)  # it did not exist: do not spin
                    return
        finally:
            ino.close()

    def _run_poll(self) -> None:
        self.mode = "poll"
        last = signature(self.path)
        self.on_change()
        while not self._stop.wait(self.poll_interval):
            now = signature(self.path)
            if now != last:
                last = now
                self.on_change()
            if self.use_inotify:
                return
