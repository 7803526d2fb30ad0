"""TLS for the agent API (issue 12 item 6), one policy for the server and every client.

The agent serves its API over TLS only, with the node's certificate (signed by the cluster's
CA, SAN = the node's address); every client (the proxies, the rollout waits on the node, the
CLI on the machine running podplay) checks that certificate against the cluster CA and the
address it dialled, so the cluster-wide bearer token never crosses the network in clear.
TLS 1.2 or newer; no client certificate (the token says who may ask).

A node's certificate is re-issued when its address changes or it nears expiry, and the
control_plane role writes the new files in place: `ServerTls` and `ClientTls` notice that
(file stamps, looked at no more than once a second) and load them again, no restart needed.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from typing import Callable, Tuple

from podplay.node.contract import defaults
from podplay.node.util.files import Stamp as FileStamp
from podplay.node.util.files import stamp_of

DEFAULT_CA = defaults.CA_FILE
MIN_VERSION = ssl.TLSVersion.TLSv1_2
RECHECK_SECONDS = 1.0

Stamp = Tuple[FileStamp, ...]


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The agent's side: its certificate and key, TLS 1.2+, no client certificate asked."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MIN_VERSION
    ctx.load_cert_chain(cert, key)
    return ctx


def client_context(ca: str) -> ssl.SSLContext:
    """A client's side: trusts the cluster CA only (not the system's), checks the name or IP
    address dialled against the certificate's subjectAltName."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    ctx.minimum_version = MIN_VERSION
    ctx.load_verify_locations(cafile=ca)
    return ctx


def _stamp(paths: Tuple[str, ...]) -> Stamp:
    return tuple(stamp_of(os.stat(path)) for path in paths)  # OSError: a file is not there


class _Reloading:
    """A context made from files, made again when one of them changes."""

    def __init__(
        self,
        paths: Tuple[str, ...],
        make: Callable[[], ssl.SSLContext],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._paths = paths
        self._make = make
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = _stamp(paths)  # OSError here: the files are not there (the caller says)
        self._context = make()
        self._checked = clock()

    def context(self) -> ssl.SSLContext:
        with self._lock:
            now = self._clock()
            if now - self._checked < RECHECK_SECONDS:
                return self._context
            self._checked = now
            try:
                stamp = _stamp(self._paths)
                if stamp != self._stamp:
                    self._context, self._stamp = self._make(), stamp
            except (OSError, ssl.SSLError):
                pass  # half-written or removed: keep serving with what was loaded
            return self._context


class ServerTls(_Reloading):
    """The agent's certificate and key. Raises OSError / ssl.SSLError when they cannot be
    loaded at start (the agent retries until the control_plane role has written them)."""

    def __init__(self, cert: str, key: str, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__((cert, key), lambda: server_context(cert, key), clock)

    def wrap(self, sock: socket.socket, timeout: float) -> ssl.SSLSocket:
        """The server side of one connection, handshake done within `timeout` seconds in all
        (Python's handshake deadline is for the whole handshake, not per read)."""
        sock.settimeout(timeout)
        return self.context().wrap_socket(sock, server_side=True)


class ClientTls(_Reloading):
    """The cluster CA, for clients of the agent API."""

    def __init__(self, ca: str, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__((ca,), lambda: client_context(ca), clock)


def not_tls(err: BaseException) -> bool:
    """Whether a failed handshake says the peer answered in plain text (an agent of an older
    bundle, which speaks plain HTTP)."""
    reason = getattr(err, "reason", None) or ""
    return isinstance(err, ssl.SSLError) and reason in (
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "HTTP_REQUEST",
    )


def describe(err: BaseException) -> str:
    """A short sentence for logs and errors: what failed in the handshake."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return "its certificate was refused (%s)" % (err.verify_message or err)
    if not_tls(err):
        return "it does not speak TLS (an agent of an older bundle?)"
    return str(err) or type(err).__name__
