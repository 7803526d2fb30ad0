"""What one client may cost the agent API: connections (in total and per client address) and
time (a request head must arrive whole within a deadline, an idle kept-alive connection is
closed after it).

The API listens on the node's address, which every pod can route to; the server runs one
thread per connection, so without these a pod holding idle or half-sent connections open
made one thread each for as long as it liked. A connection over a cap is closed by the
accepting thread itself: it never gets a thread (nor a TLS handshake, so no answer).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

REQUEST_TIMEOUT = 10.0  # seconds for a whole request head, and for an idle kept-alive wait
WRITE_TIMEOUT = 10.0  # a reader that takes nothing for this long is dropped (streams too)
MAX_CONNECTIONS = 256  # a watcher per node of the cluster, the controller, `logs -f` ...
MAX_PER_CLIENT = 32  # one address: a node's proxy holds one, the controller a few
BACKLOG = 128  # connections the kernel queues before the server accepts them


class ConnectionLimits:
    """Counts open connections per client address; thread-safe."""

    def __init__(self, total: int = MAX_CONNECTIONS, per_client: int = MAX_PER_CLIENT) -> None:
        self.total = total
        self.per_client = per_client
        self._lock = threading.Lock()
        self._open: Dict[int, str] = {}  # id(socket) -> client address
        self._per_address: Dict[str, int] = {}

    def admit(self, conn: Any, address: str) -> Optional[str]:
        """Count `conn` in and return None, or say why it is refused (and count nothing)."""
        with self._lock:
            if len(self._open) >= self.total:
                return "too many connections to this agent (%d)" % self.total
            held = self._per_address.get(address, 0)
            if held >= self.per_client:
                return "too many connections from %s (%d)" % (address, self.per_client)
            self._open[id(conn)] = address
            self._per_address[address] = held + 1
            return None

    def release(self, conn: Any) -> None:
        """`conn` is closed (a connection never admitted is ignored)."""
        with self._lock:
            address = self._open.pop(id(conn), None)
            if address is None:
                return
            left = self._per_address.get(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)

    def counts(self) -> Tuple[int, Dict[str, int]]:
        """(open connections, per client address), for tests and status."""
        with self._lock:
            return len(self._open), dict(self._per_address)


def refuse(conn: socket.socket) -> None:
    """Close without blocking (the accepting thread must never wait on a client), reading
    first what the client already sent (its TLS hello), so the close is a plain FIN and not a
    reset. No answer: the API speaks TLS, whose handshake would need a thread."""
    try:
        conn.setblocking(False)
        with contextlib.suppress(BlockingIOError, InterruptedError):
            conn.recv(65536)
    except OSError:
        pass  # the client is gone already: it gets the close


class DeadlineReader:
    """The request side of a connection, with one deadline for everything read until it is
    cleared: a client that sends a request a byte at a time cannot hold a thread longer
    than the deadline, whatever the gaps between its bytes."""

    def __init__(
        self, raw: Any, conn: socket.socket, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._raw = raw
        self._conn = conn
        self._clock = clock
        self.deadline: Optional[float] = None

    def readline(self, limit: int = -1) -> bytes:
        self._arm()
        return self._raw.readline(limit)

    def read(self, n: int = -1) -> bytes:
        self._arm()
        return self._raw.read(n)

    def _arm(self) -> None:
        if self.deadline is None:
            return
        left = self.deadline - self._clock()
        if left <= 0:
            raise socket.timeout("request not complete within its deadline")
        self._conn.settimeout(left)

    def __getattr__(self, name: str) -> Any:  # close(), closed, ... of the file beneath
        return getattr(self._raw, name)
