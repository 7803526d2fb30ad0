"""Running probes: HTTP and TCP against real local sockets, exec with a timeout (no Docker)."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from podplay.node.agent.manifest import ProbeSpec
from podplay.node.agent.prober import ExecProber, http_probe, run_probe, tcp_probe


@pytest.fixture
def web():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = {"/ok": 200, "/moved": 302, "/slow": 200}.get(self.path, 500)
            if self.path == "/slow":
                time.sleep(1)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_http_probe_success_is_200_to_399(web) -> None:
    assert http_probe("127.0.0.1", web, "/ok", 1)[0]
    assert http_probe("127.0.0.1", web, "/moved", 1)[0]
    ok, message = http_probe("127.0.0.1", web, "/broken", 1)
    assert not ok and "status code 500" in message


def test_http_probe_timeout_and_refused(web) -> None:
    ok, message = http_probe("127.0.0.1", web, "/slow", 0.2)
    assert not ok and "timed out" in message
    ok, message = http_probe("127.0.0.1", closed_port(), "/", 1)
    assert not ok and "refused" in message.lower()


def test_tcp_probe(web) -> None:
    assert tcp_probe("127.0.0.1", web, 1)[0]
    assert not tcp_probe("127.0.0.1", closed_port(), 1)[0]


def test_exec_probe_exit_code_and_timeout() -> None:
    release = threading.Event()
    calls = []

    def run(cid, argv):
        calls.append(argv)
        if argv[0] == "hang":
            release.wait(5)
        return (0 if argv[0] == "true" else 1), "last line"

    prober = ExecProber(run)
    assert prober("c1", ["true"], 1) == (True, "last line")
    ok, message = prober("c1", ["false"], 1)
    assert not ok and "exited 1" in message
    ok, message = prober("c1", ["hang"], 0.1)
    assert not ok and "timed out" in message
    ok, message = prober("c1", ["hang"], 0.1)  # the previous run still hangs: not started again
    assert not ok and "has not ended" in message
    assert calls.count(["hang"]) == 1
    release.set()


def test_run_probe_never_raises() -> None:
    def boom(cid, argv):
        raise RuntimeError("engine gone")

    spec = ProbeSpec(type="exec", command=("x",))
    ok, message = run_probe(spec, "127.0.0.1", "c1", ExecProber(boom))
    assert not ok and "engine gone" in message
