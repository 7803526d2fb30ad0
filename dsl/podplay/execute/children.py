"""ansible-playbook never outlives the podplay that started it (issue 12, item 4).

A `podplay up` killed with SIGKILL runs no cleanup: its ansible-playbook child was re-parented
to PID 1 and went on converging the nodes while the next `up` ran beside it. Two guards:

- On Linux the child asks the kernel for SIGTERM when its parent dies (prctl
  PR_SET_PDEATHSIG, set between fork and exec). ansible-playbook handles SIGTERM by
  terminating its workers (each in its own session) and ending, so the whole converge stops.
- The stack lock's descriptor is inherited by ansible-playbook (and so by its forked
  workers) while podplay holds the lock (`hold_in_children`): the flock stays held until the
  last of them has exited, so a next `up` can never run beside a leftover converge, on any
  platform, even if SIGTERM is ignored.

    with children.hold_in_children(lock_fd):
        run_playbook(...)            # its Popen gets pass_fds=(lock_fd,) and the preexec hook
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
DEATH_SIGNAL = signal.SIGTERM  # ansible-playbook's handler stops its workers, then it ends

_held_fds: list[int] = []


@contextlib.contextmanager
def hold_in_children(fd: int) -> Iterator[None]:
    """Children started inside this block inherit `fd` (a held flock), keeping it held."""
    _held_fds.append(fd)
    try:
        yield
    finally:
        _held_fds.remove(fd)


def inherited_fds() -> tuple[int, ...]:
    """The descriptors a child started now must inherit (`Popen(pass_fds=...)`)."""
    return tuple(_held_fds)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` making the child get DEATH_SIGNAL when this process dies (Linux), or
    None where the kernel offers no such thing (the inherited lock still guards there)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody will tell us
            os.kill(os.getpid(), DEATH_SIGNAL)

    return hook
