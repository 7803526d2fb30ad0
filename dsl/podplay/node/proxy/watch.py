"""One long-lived watch connection per node's agent: `GET /v1/pods?watch=1` (NDJSON).

Each `Watcher` is a thread that connects, reads lines and hands snapshots and heartbeats to
callbacks; on any error (refused, reset, 401, garbage, 2 s of silence) it reconnects after a
short pause. It never decides readiness itself: `Readiness` does, from what arrived when.

Scale: a proxy holds N connections (one per node, itself included); an agent serves N
watchers. Changes are pushed, nothing is polled: at 50 nodes that is 50 idle sockets per
node and 100 one-line heartbeats per second (two per peer), and a pod change costs one
snapshot line to each of the 50 watchers (a node's pods in a few kB). The readiness
deadline (2 s) does not depend on N.

Over TLS only, the agent's certificate checked against the cluster CA and the node's
address: the token is never sent in clear. An agent of an older bundle speaks plain HTTP
(during an `up` that upgrades the bundle, for the seconds between two nodes' agent
restarts): when the handshake fails, the watcher asks that agent's `/healthz` in plain HTTP
(no token, nothing secret) and, when it answers, calls `on_plain`: the proxy keeps that
node's last readiness (fail static) until its agent speaks TLS.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import ssl
import threading
from typing import Any, Callable, Optional

from podplay.node.util import tls
from podplay.node.util.backoff import Backoff
from podplay.node.util.files import stamp_of

log = logging.getLogger("podplay.proxy.watch")

READ_TIMEOUT = 2.0
# An agent answers a handshake in milliseconds; an older, plain-HTTP agent may wait for a
# line that never comes: give up sooner than the 2 s deadline, so the plain probe that
# follows keeps that node's readiness held in time.
HANDSHAKE_TIMEOUT = 1.0
PLAIN_PROBE_TIMEOUT = 0.5
# Reconnect fast: a restarted agent serves again within about a second, and its node's
# endpoints count as gone after 2 s without a line (a refused connect costs nothing).
RETRY_MIN = 0.1
RETRY_MAX = 0.4

OnSnapshot = Callable[[str, list, int], None]
OnHeartbeat = Callable[[str], None]
OnPlain = Callable[[str], None]
TlsContext = Callable[[], ssl.SSLContext]


class PlainAgent(ConnectionError):
    """The agent answered plain HTTP: an older bundle's (its readiness is held meanwhile)."""


class Watcher(threading.Thread):
    """Keeps one node's pod watch open for as long as the proxy wants it."""

    def __init__(
        self,
        node: str,
        address: str,
        port: int,
        token: Callable[[], str],
        on_snapshot: OnSnapshot,
        on_heartbeat: OnHeartbeat,
        read_timeout: float = READ_TIMEOUT,
        tls_context: Optional[TlsContext] = None,
        on_plain: Optional[OnPlain] = None,
    ) -> None:
        super().__init__(name="watch-%s" % node, daemon=True)
        self.node = node
        self.address = address
        self.port = port
        self._token = token
        self._on_snapshot = on_snapshot
        self._on_heartbeat = on_heartbeat
        self._read_timeout = read_timeout
        self._tls_context = tls_context or cluster_ca(None)
        self._on_plain = on_plain
        self._stop_event = threading.Event()
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()
        self.connects = 0
        self.last_error: Optional[str] = None

    def stop(self) -> None:
        """Ask the thread to end and break its blocking read."""
        self._stop_event.set()
        with self._lock:
            conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        retries = Backoff(RETRY_MIN, RETRY_MAX)
        while not self._stop_event.is_set():
            connects = self.connects
            try:
                self._stream()
            except Exception as err:  # any failure: log once per kind, reconnect
                message = "%s: %s" % (type(err).__name__, err)
                if message != self.last_error:
                    log.warning("watch %s (%s): %s", self.node, self.address, message)
                self.last_error = message
            finally:
                with self._lock:
                    conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close()
            if self.connects != connects:
                retries.succeeded()  # the stream worked: this is a fresh outage (agent restart)
            self._stop_event.wait(retries.failed())

    def _stream(self) -> None:
        conn = http.client.HTTPSConnection(
            self.address,
            self.port,
            timeout=min(HANDSHAKE_TIMEOUT, self._read_timeout),
            context=self._tls_context(),
        )
        with self._lock:
            self._conn = conn
        if self._stop_event.is_set():
            return
        try:
            conn.connect()  # TCP and the TLS handshake, the agent's certificate checked
        except (ssl.SSLCertVerificationError, ConnectionRefusedError):
            raise  # not ours, or nothing listens: nothing to ask in plain HTTP
        except (OSError, ValueError) as err:
            self._plain_probe()
            raise ConnectionError("TLS handshake: %s" % tls.describe(err)) from None
        assert conn.sock is not None
        conn.sock.settimeout(self._read_timeout)
        conn.request(
            "GET",
            "/v1/pods?watch=1",
            headers={
                "Authorization": "Bearer %s" % self._token(),
                "Accept": "application/x-ndjson",
            },
        )
        resp = conn.getresponse()
        if resp.status != 200:
            raise ConnectionError("agent answered HTTP %d" % resp.status)
        self.connects += 1
        if self.last_error is not None:
            log.info("watch %s (%s): connected", self.node, self.address)
            self.last_error = None
        while not self._stop_event.is_set():
            line = resp.readline()
            if not line:
                raise ConnectionError("agent closed the stream")
            line = line.strip()
            if line:
                self._handle(json.loads(line.decode("utf-8")))

    def _plain_probe(self) -> None:
        """After a failed handshake: does the agent answer `/healthz` in plain HTTP (an older
        bundle's agent)? Then raise PlainAgent, after telling the proxy (`on_plain`)."""
        probe = http.client.HTTPConnection(self.address, self.port, timeout=PLAIN_PROBE_TIMEOUT)
        try:
            probe.request("GET", "/healthz")  # no token: nothing secret crosses in clear
            status = probe.getresponse().status
        except (OSError, http.client.HTTPException):
            return  # not an HTTP server either: the agent is down or starting
        finally:
            probe.close()
        if self._on_plain is not None:
            self._on_plain(self.node)
        raise PlainAgent(
            "the agent speaks plain HTTP (an older bundle; /healthz answered %d): keeping "
            "its last readiness until it speaks TLS" % status
        )

    def _handle(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            raise ValueError("watch line is not an object")
        kind = msg.get("type")
        if kind == "snapshot":
            pods = msg.get("pods")
            if not isinstance(pods, list):
                raise ValueError("snapshot without a pods list")
            self._on_snapshot(self.node, pods, int(msg.get("generation") or 0))
        elif kind == "heartbeat":
            self._on_heartbeat(self.node)
        # other line types: ignore (forward compatible)


def read_token(path: str) -> Callable[[], str]:
    """A token getter that re-reads the file when it changes (rotation without restart)."""
    cache = {"stamp": None, "token": ""}

    def get() -> str:
        try:
            st = stamp_of(os.stat(path))
            if st != cache["stamp"]:
                with open(path) as f:
                    cache["token"] = f.read().strip()
                cache["stamp"] = st
        except OSError as err:
            log.warning("cannot read token %s: %s", path, err)
        return cache["token"]

    return get


def cluster_ca(path: Optional[str]) -> TlsContext:
    """A getter of the client context trusting the cluster CA at `path` (loaded when first
    asked, so a proxy started before the file exists retries; loaded again when the file
    changes). None: the contract's default path."""
    holder: dict = {}

    def get() -> ssl.SSLContext:
        if "tls" not in holder:
            holder["tls"] = tls.ClientTls(path or tls.DEFAULT_CA)
        return holder["tls"].context()

    return get
