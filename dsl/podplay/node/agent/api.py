"""The agent's status API on port 10250 (endpoints in dsl/podplay/node/README.md).

Standard library only: a threaded `http.server`; every path but `/healthz` needs the
cluster's bearer token. `/v1/pods?watch=1` streams NDJSON over chunked HTTP/1.1: a snapshot
when anything changes, a heartbeat every second otherwise.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger("podplay.agent.api")

HEARTBEAT_SECONDS = 0.9


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: str, port: int, agent: "Agent", token: str) -> None:
        self.agent = agent
        self.token = token
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.address_family = family
        super().__init__((address, port), Handler)


def serve(agent: "Agent", address: str, port: int, token: str) -> AgentServer:
    """Start serving in a daemon thread; returns the server (its port if 0 was asked)."""
    server = AgentServer(address, port, agent, token)
    t = threading.Thread(target=server.serve_forever, name="api", daemon=True)
    t.start()
    return server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AgentServer
    server_version = "podplay-agent"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

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
        agent = self.server.agent
        if path == "/healthz":
            if agent.board.node_ready:
                self._send(200, "ok", "text/plain")
            else:
                self._send(503, "not ready: %s\n" % agent.board.node_message, "text/plain")
            return
        if not self._authorized():
            return
        parts = path.strip("/").split("/")
        if path == "/v1/pods":
            if _flag(query.get("watch")):
                self._stream(self._watch(agent), "application/x-ndjson")
            else:
                gen, pods = agent.board.snapshot()
                self._send(200, {"node": agent.cfg.node, "generation": gen, "pods": pods})
        elif path == "/v1/node":
            self._send(200, agent.node_info())
        elif path == "/v1/events":
            self._send(200, {"node": agent.cfg.node, "events": agent.events.list()})
        elif len(parts) == 5 and parts[:2] == ["v1", "pods"] and parts[4] == "logs":
            self._logs(parts[2], parts[3], query)
        else:
            self._send(404, {"error": "no such path: %s" % url.path})

    def _watch(self, agent: "Agent") -> Iterable[bytes]:
        node = agent.cfg.node
        gen, pods = agent.board.snapshot()
        yield _line({"type": "snapshot", "generation": gen, "node": node, "pods": pods})
        while True:
            new = agent.board.wait_change(gen, HEARTBEAT_SECONDS)
            if new != gen:
                gen, pods = agent.board.snapshot()
                yield _line({"type": "snapshot", "generation": gen, "node": node, "pods": pods})
            else:
                yield _line({"type": "heartbeat", "generation": gen})

    def _logs(self, namespace: str, pod: str, query: Dict[str, str]) -> None:
        agent = self.server.agent
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


def _line(doc: Dict[str, Any]) -> bytes:
    return (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _flag(value: Optional[str]) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "")
