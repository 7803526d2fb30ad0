"""The agent's status API on port 10250 (endpoints in dsl/podplay/node/README.md).

Standard library only: a threaded `http.server` over TLS only (the node's certificate,
`podplay.node.util.tls`; the handshake runs in the connection's thread, never the accepting
one); every path but `/healthz` needs the cluster's bearer token, which therefore never
crosses the network in clear. `/v1/pods?watch=1` streams NDJSON over chunked HTTP/1.1: a
snapshot when anything changes, a heartbeat every half second otherwise.

Every connection costs a thread, so what a client may hold is bounded (`limits`): a request
head must arrive whole within 10 s (an idle kept-alive connection is closed after as long),
a reader that takes nothing for 10 s is dropped, and connections beyond 256, or beyond 32 from
one address, are closed at once without a thread (before TLS: no answer can be sent there).
The TLS handshake gets the same 10 s, in all. A stream, once its request is in, has no
read deadline (watch streams live as long as the watcher).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from podplay.node.contract import addresses, defaults
from podplay.node.util.tls import ServerTls, describe

from .board import EventLog, StatusBoard
from .config import AgentConfig
from .limits import (
    BACKLOG,
    REQUEST_TIMEOUT,
    WRITE_TIMEOUT,
    ConnectionLimits,
    DeadlineReader,
    refuse,
)

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger("podplay.agent.api")

# Watchers call a node gone after 2 s without a line: heartbeats twice a second leave room
# for an agent restart (process start, serving the saved board) inside that window.
HEARTBEAT_SECONDS = 0.5


class AgentServer(ThreadingHTTPServer):
    """Serves the board from the moment the process starts (before the Docker SDK is even
    imported), so a restarted agent answers watchers within a fraction of a second; the
    endpoints that need the engine (logs) wait for `agent` to be set."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(
        self,
        cfg: AgentConfig,
        board: StatusBoard,
        events: EventLog,
        token: str,
        limits: Optional[ConnectionLimits] = None,
        request_timeout: float = REQUEST_TIMEOUT,
        write_timeout: float = WRITE_TIMEOUT,
        tls: Optional[ServerTls] = None,
    ) -> None:
        # first: certificate files that cannot be loaded leave no socket bound (OSError)
        self.tls = tls or ServerTls(cfg.tls_cert, cfg.tls_key)
        self.cfg = cfg
        self.board = board
        self.events = events
        self.token = token
        self.agent: Optional["Agent"] = None
        self.limits = limits or ConnectionLimits()
        self.request_timeout = request_timeout
        self.write_timeout = write_timeout
        self._line_lock = threading.Lock()
        self._line: Tuple[int, bytes] = (-1, b"")
        address = cfg.listen_address
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, cfg.api_port), Handler)

    def snapshot_line(self) -> Tuple[int, bytes]:
        """The current snapshot as one NDJSON line, serialised once per generation however
        many watchers there are (one per node of the cluster)."""
        with self._line_lock:
            gen, pods = self.board.snapshot()
            if self._line[0] != gen:
                doc = {"type": "snapshot", "generation": gen, "node": self.cfg.node, "pods": pods}
                self._line = (gen, _line(doc))
            return self._line

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """On the accepting thread: over a cap, close at once (no thread is made)."""
        why = self.limits.admit(request, str(client_address[0]))
        if why is None:
            return True
        log.debug("refused a connection from %s: %s", client_address[0], why)
        refuse(request)
        return False

    def finish_request(self, request: Any, client_address: Any) -> None:
        """In the connection's own thread: the TLS handshake (within the request deadline, so
        a silent or dripping client holds a thread no longer than a half-sent request), then
        the HTTP exchange. A client speaking plain HTTP gets no answer."""
        try:
            conn = self.tls.wrap(request, self.request_timeout)
        except (OSError, ValueError) as err:  # ssl.SSLError and socket.timeout are OSErrors
            log.debug("TLS handshake with %s failed: %s", client_address[0], describe(err))
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
            conn.close()

    def shutdown_request(self, request: Any) -> None:
        """`request` is the accepted socket, which the TLS socket took over (a no-op close
        then); its count is released here whatever happened."""
        self.limits.release(request)
        super().shutdown_request(request)


def serve(
    cfg: AgentConfig, board: StatusBoard, events: EventLog, token: str, **limits: Any
) -> AgentServer:
    """Start serving in a daemon thread; returns the server (its port if 0 was asked).
    `limits`: AgentServer's `limits`, `request_timeout`, `write_timeout`, `tls` (tests).
    OSError (ssl.SSLError included) when it cannot listen or load its certificate."""
    server = AgentServer(cfg, board, events, token, **limits)
    t = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="api", daemon=True
    )
    t.start()
    return server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AgentServer
    server_version = "podplay-agent"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def setup(self) -> None:
        super().setup()
        # A peer that vanished (a partition, a node killed) never acknowledges what a stream
        # sends it: the kernel drops the connection after `write_timeout` of that, so stale
        # watch streams do not pile up against the per-client cap.
        user_timeout = getattr(socket, "TCP_USER_TIMEOUT", None)
        if user_timeout is not None and self.server.address_family in (
            socket.AF_INET,
            socket.AF_INET6,
        ):
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.IPPROTO_TCP, user_timeout, int(self.server.write_timeout * 1000)
                )
        self._reader = DeadlineReader(self.rfile, self.connection)
        self.rfile = self._reader  # type: ignore[assignment]

    def handle_one_request(self) -> None:
        """The next request head (or the wait for it) gets `request_timeout` in all; what
        the answer then writes gets `write_timeout` per send."""
        self._reader.deadline = time.monotonic() + self.server.request_timeout
        super().handle_one_request()

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self._reader.deadline = None  # the head is in: no read deadline for what follows
        self.connection.settimeout(self.server.write_timeout)
        return ok

    # -- plumbing -------------------------------------------------------------------------

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.server.token.encode()
        ):
            return True
        self._send(401, {"error": "unauthorized: send Authorization: Bearer <cluster token>"})
        return False

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        if isinstance(body, (dict, list)):
            data = (json.dumps(body, sort_keys=True) + "\n").encode()
        else:
            data = str(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, chunks: Iterable[bytes], content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            pass  # the client went away

    # -- routes ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/") or "/"
        srv = self.server
        if path == "/healthz":
            if srv.board.node_ready:
                self._send(200, "ok", "text/plain")
            else:
                self._send(503, "not ready: %s\n" % srv.board.node_message, "text/plain")
            return
        if not self._authorized():
            return
        parts = path.strip("/").split("/")
        if path == "/v1/pods":
            if _flag(query.get("watch")):
                self._stream(self._watch(), "application/x-ndjson")
            else:
                gen, pods = srv.board.snapshot()
                self._send(200, {"node": srv.cfg.node, "generation": gen, "pods": pods})
        elif path == "/v1/node":
            self._send(200, node_info(srv.cfg, srv.board))
        elif path == "/v1/events":
            self._send(200, {"node": srv.cfg.node, "events": srv.events.list()})
        elif len(parts) == 5 and parts[:2] == ["v1", "pods"] and parts[4] == "logs":
            self._logs(parts[2], parts[3], query)
        else:
            self._send(404, {"error": "no such path: %s" % url.path})

    def _watch(self) -> Iterable[bytes]:
        board = self.server.board
        gen, line = self.server.snapshot_line()
        yield line
        while True:
            new = board.wait_change(gen, HEARTBEAT_SECONDS)
            if new != gen:
                gen, line = self.server.snapshot_line()
                yield line
            else:
                yield _line({"type": "heartbeat", "generation": gen})

    def _logs(self, namespace: str, pod: str, query: Dict[str, str]) -> None:
        agent = self.server.agent
        if agent is None:
            self._send(503, {"error": "the agent is starting; try again in a second"})
            return
        tail: Optional[int] = None
        if query.get("tail"):
            try:
                tail = max(0, int(query["tail"]))
            except ValueError:
                self._send(400, {"error": "tail: expected a number, got %r" % query["tail"]})
                return
        follow = _flag(query.get("follow"))
        o, why = agent.find_container(
            namespace, pod, query.get("container") or None, _flag(query.get("previous"))
        )
        if o is None:
            self._send(404, {"error": why})
            return
        try:
            stream = agent.rt.logs(o.id, tail, follow)
        except Exception as err:
            self._send(502, {"error": "logs of %s: %s" % (o.name, err)})
            return
        self._stream(stream, "text/plain; charset=utf-8")


def node_info(cfg: AgentConfig, board: StatusBoard) -> Dict[str, Any]:
    """`/v1/node`: who this node is, what it can hold, which agent runs it."""
    from podplay.node import VERSION

    capacity = {
        "cpu_millis": (os.cpu_count() or 1) * 1000,
        "memory_bytes": _mem_total(),
        "pods": _pod_capacity(cfg.pod_cidr),
    }
    return {
        "name": cfg.node,
        "address": cfg.address,
        "pod_cidr": cfg.pod_cidr,
        "cluster": cfg.cluster,
        "version": VERSION,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "ready": board.node_ready,
        "message": board.node_message,
        "pods": len(board.pods),
        "capacity": capacity,
        "allocatable": dict(capacity),
    }


def _mem_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _pod_capacity(cidr: str) -> int:
    """Addresses a pod can get (the contract's pod address rule), at most MAX_PODS."""
    return min(defaults.MAX_PODS, addresses.pod_address_count(cidr))


def _line(doc: Dict[str, Any]) -> bytes:
    return (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _flag(value: Optional[str]) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "")
