"""What a client may cost the agent API (issue 12 item 6): deadlines for TLS handshakes,
request heads and idle connections, caps on connections per client address and in total,
closed beyond them without a thread, and watch streams exempt from the read deadline. Real
sockets on 127.0.0.1 (TLS, a throwaway cluster PKI) with short timeouts."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from podplay.node.agent.api import serve
from podplay.node.agent.board import EventLog, StatusBoard
from podplay.node.agent.config import parse_config
from podplay.node.agent.limits import ConnectionLimits, DeadlineReader
from podplay.node.util.tls import client_context

TOKEN = "s3cret"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"


@pytest.fixture
def make_server(cluster_pki):
    servers = []

    def make(**limits):
        cfg = parse_config({"node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
                            "api_port": 0, **cluster_pki.agent_fields()})  # fmt: skip
        board = StatusBoard()
        board.publish([], True, "")
        srv = serve(cfg, board, EventLog(), TOKEN, **limits)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def connect(srv, source: str = "127.0.0.1", handshake: bool = True) -> socket.socket:
    """A connection to the agent, TLS with the cluster CA (or, `handshake=False`, the plain
    TCP connection before any TLS)."""
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", srv.server_address[1]))
    s.settimeout(5)
    if not handshake:
        return s
    return client_context(srv.cfg.tls_ca).wrap_socket(s, server_hostname="127.0.0.1")


def closed_after(s: socket.socket) -> float:
    """Seconds until the server closes `s` (reading and dropping whatever it sends)."""
    start = time.monotonic()
    while True:
        try:
            data = s.recv(4096)
        except OSError:  # reset, or a TLS connection closed without close_notify
            break
        if not data:
            break
    return time.monotonic() - start


def refused_at_once(srv, s: socket.socket) -> None:
    """The server closed `s` (connected without TLS yet) without a word: the handshake ends
    at once in an EOF or a reset, nothing was answered."""
    start = time.monotonic()
    with pytest.raises(OSError):
        client_context(srv.cfg.tls_ca).wrap_socket(s, server_hostname="127.0.0.1")
    assert time.monotonic() - start < 1


def response(s: socket.socket) -> bytes:
    """One whole answer with a Content-Length (head and body may come in separate sends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += s.recv(4096)
    return head + b"\r\n\r\n" + body


def wait_for(check, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_half_sent_request_is_closed_at_the_deadline(make_server):
    srv = make_server(request_timeout=0.5)
    s = connect(srv)
    s.sendall(b"GET /v1/pods HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
    took = closed_after(s)
    assert 0.4 < took < 1.5, took
    wait_for(lambda: srv.limits.counts()[0] == 0)


def test_a_request_dripped_a_byte_at_a_time_is_closed_at_the_deadline_too(make_server):
    srv = make_server(request_timeout=0.6)
    s = connect(srv)
    start = time.monotonic()
    try:
        for byte in b"GET /v1/pods HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            s.send(bytes([byte]))
            time.sleep(0.05)
    except OSError:
        pass  # the server closed it while we dripped
    took = time.monotonic() - start + closed_after(s)
    assert took < 1.5, took  # a per-read timeout would have let this run for 5+ s


def test_an_idle_connection_is_closed_and_a_kept_alive_one_serves_then_closes(make_server):
    srv = make_server(request_timeout=0.5)
    silent = connect(srv, handshake=False)  # never even says hello: the handshake deadline
    assert 0.4 < closed_after(silent) < 1.5
    idle = connect(srv)
    assert 0.4 < closed_after(idle) < 1.5
    s = connect(srv)
    for _ in range(2):  # two requests on one connection, each answered
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = response(s)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok"), answer
    assert 0.4 < closed_after(s) < 1.5  # then idle: closed


def test_connections_beyond_the_per_client_cap_are_closed_with_no_thread(make_server):
    srv = make_server(limits=ConnectionLimits(total=100, per_client=3), request_timeout=5)
    held = [connect(srv) for _ in range(3)]
    wait_for(lambda: srv.limits.counts()[0] == 3)
    threads = threading.active_count()
    refused = [connect(srv, handshake=False) for _ in range(20)]
    for s in refused:
        refused_at_once(srv, s)
    assert threading.active_count() <= threads  # refused on the accepting thread
    other = connect(srv, "127.0.0.2")  # another address is not held back by this one's
    other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response(other).startswith(b"HTTP/1.1 200")
    held[0].close()
    wait_for(lambda: srv.limits.counts()[1].get("127.0.0.1") == 2)
    again = connect(srv)  # a closed connection frees its slot
    again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response(again).startswith(b"HTTP/1.1 200")


def test_connections_beyond_the_total_cap_are_closed(make_server):
    srv = make_server(limits=ConnectionLimits(total=4, per_client=3), request_timeout=5)
    held = [connect(srv, "127.0.0.1") for _ in range(2)] + [connect(srv, "127.0.0.2")
                                                              for _ in range(2)]  # fmt: skip
    wait_for(lambda: srv.limits.counts()[0] == 4)
    refused_at_once(srv, connect(srv, "127.0.0.3", handshake=False))
    assert len(held) == 4
    held[0].close()
    wait_for(lambda: srv.limits.counts()[0] == 3)
    s = connect(srv, "127.0.0.3")  # a slot again
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response(s).startswith(b"HTTP/1.1 200")


def test_a_watch_stream_outlives_the_request_deadline(make_server):
    srv = make_server(request_timeout=0.3)
    s = connect(srv)
    s.sendall(b"GET /v1/pods?watch=1 HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n")
    data = b""
    start = time.monotonic()
    while time.monotonic() - start < 1.5:  # five times the deadline
        chunk = s.recv(4096)
        assert chunk, "the stream was closed"
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b'"type":"snapshot"' in data
    assert data.count(b'"type":"heartbeat"') >= 2


def test_deadline_reader_counts_the_whole_head_not_each_read():
    class Raw:
        def readline(self, limit=-1):
            return b"x\r\n"

    class Conn:
        timeouts: list = []

        def settimeout(self, t):
            self.timeouts.append(t)

    now = [100.0]
    reader = DeadlineReader(Raw(), Conn(), clock=lambda: now[0])  # type: ignore[arg-type]
    assert reader.readline() == b"x\r\n"  # no deadline: no timeout set
    reader.deadline = 110.0
    reader.readline()
    now[0] = 109.0
    reader.readline()
    assert Conn.timeouts == [10.0, 1.0]  # what is left of the one deadline
    now[0] = 110.0
    with pytest.raises(socket.timeout):
        reader.readline()


def test_limits_count_per_address_and_ignore_strangers():
    limits = ConnectionLimits(total=3, per_client=2)
    a, b, c, d = object(), object(), object(), object()
    assert limits.admit(a, "10.0.0.1") is None and limits.admit(b, "10.0.0.1") is None
    assert "from 10.0.0.1 (2)" in (limits.admit(c, "10.0.0.1") or "")
    assert limits.admit(c, "10.0.0.2") is None
    assert "too many connections to this agent (3)" in (limits.admit(d, "10.0.0.3") or "")
    limits.release(d)  # never admitted: nothing changes
    assert limits.counts() == (3, {"10.0.0.1": 2, "10.0.0.2": 1})
    limits.release(a)
    limits.release(c)
    assert limits.counts() == (1, {"10.0.0.1": 1})


def test_a_vanished_peer_is_dropped_after_the_write_timeout(make_server, monkeypatch):
    """TCP_USER_TIMEOUT on every accepted connection: a watch stream to a peer that stopped
    acknowledging (partitioned, killed) ends after `write_timeout`, freeing its slot."""
    from podplay.node.agent.api import Handler

    seen: list[int] = []
    setup = Handler.setup

    def spy(self) -> None:
        setup(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))

    monkeypatch.setattr(Handler, "setup", spy)
    srv = make_server(write_timeout=7)
    s = connect(srv)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response(s).startswith(b"HTTP/1.1 200")
    assert seen == [7000]


def test_a_snapshot_is_serialised_once_per_generation_for_all_watchers(make_server, monkeypatch):
    from podplay.node.agent import api

    made: list[int] = []
    line = api._line

    def spy(doc: dict) -> bytes:
        if doc["type"] == "snapshot":  # heartbeats are built per watcher: a few bytes
            made.append(doc["generation"])
        return line(doc)

    monkeypatch.setattr(api, "_line", spy)
    srv = make_server()
    watchers = [connect(srv) for _ in range(5)]
    for s in watchers:
        s.sendall(b"GET /v1/pods?watch=1 HTTP/1.1\r\nHost: x\r\n" + AUTH.encode() + b"\r\n")
    for s in watchers:
        data = b""
        while b'"type":"snapshot"' not in data:
            data += s.recv(65536)
    srv.board.publish([{"name": "web-1", "ready": True}], True, "")
    for s in watchers:
        data = b""
        while b'"web-1"' not in data:
            data += s.recv(65536)
    assert made.count(1) == 1 and made.count(2) == 1, made  # not once per watcher
