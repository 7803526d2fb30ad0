"""A tiny stand-in for a node agent's watch API (`GET /v1/pods?watch=1`), per the node README.

Chunked NDJSON: a snapshot line on connect and on every `set_pods`, heartbeats every
`heartbeat` seconds unless `silent` is set (a hung node). Bearer token required. Over TLS
with the certificate and key given (as every agent now), else plain HTTP (an agent of an
older bundle); `/healthz` needs no token.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from podplay.node.util.tls import server_context


class FakeAgent:
    def __init__(
        self,
        node: str,
        token: str = "s3cret",
        heartbeat: float = 0.2,
        tls: tuple[str, str] | None = None,
        address: str = "127.0.0.1",
    ) -> None:
        self.node = node
        self.token = token
        self.heartbeat = heartbeat
        self.pods: list[dict[str, Any]] = []
        self.generation = 0
        self.silent = threading.Event()
        self.changed = threading.Condition()
        self.connections = 0
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                agent.requests.append((self.path, self.headers.get("Authorization")))
                if self.path == "/healthz":
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    return
                if self.headers.get("Authorization") != f"Bearer {agent.token}":
                    body = b'{"error": "unauthorized"}'
                    self.send_response(401)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path != "/v1/pods?watch=1":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                agent.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    seen = -1
                    while not agent.closed.is_set():
                        with agent.changed:
                            if seen == agent.generation:
                                agent.changed.wait(agent.heartbeat)
                            gen, pods = agent.generation, list(agent.pods)
                        if agent.silent.is_set():
                            continue
                        if gen != seen:
                            line = {"type": "snapshot", "generation": gen, "node": agent.node,
                                    "pods": pods}  # fmt: skip
                            seen = gen
                        else:
                            line = {"type": "heartbeat", "generation": gen}
                        self._chunk(json.dumps(line).encode() + b"\n")
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        self.closed = threading.Event()
        self.requests: list[tuple[str, str | None]] = []
        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            context = server_context(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeAgent:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()

    def set_pods(self, pods: list[dict[str, Any]]) -> None:
        with self.changed:
            self.pods = pods
            self.generation += 1
            self.changed.notify_all()


def pod(name: str, ip: str, ready: bool = True, namespace: str = "default") -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "uid": name,
        "labels": {},
        "ip": ip,
        "phase": "Running",
        "ready": ready,
        "containers": [],
    }
