"""The node-local cluster DNS server: answers the cluster zone, forwards everything else.

Why our own server rather than dnsmasq: Kubernetes' ExternalName behaviour needs the CNAME
*and* the target's records resolved upstream in one answer (a pod's stub resolver does not
chase CNAMEs); dnsmasq's `cname=` only does that for targets it knows locally. Here the zone
is swapped in memory when the service table or readiness changes (no config file, no
SIGHUP, no second daemon), and the code is a few hundred lines of standard library.

It listens on UDP and TCP port 53 of one address (the pod bridge gateway, bound with
IP_FREEBIND so it can start before the bridge exists); the proxy's iptables rules steer the
cluster DNS VIP (10.96.0.10) there. Upstream servers come from the node's resolv.conf,
re-read when it changes. Local answers are made on the receiving thread; forwarded queries
run on a small pool so a slow upstream never blocks cluster names.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Tuple

from podplay.node.dns import wire
from podplay.node.dns.zone import Answer, Zone
from podplay.node.util.files import file_stamp

log = logging.getLogger("podplay.dns")

IP_FREEBIND = 15  # linux/in.h
UPSTREAM_TIMEOUT = 2.0
TCP_IDLE = 10.0
BIND_ATTEMPTS = 20  # port 0 only: UDP ports whose TCP twin is taken are passed over


def read_resolv_conf(path: str = "/etc/resolv.conf", exclude: Tuple[str, ...] = ()) -> List[str]:
    """IPv4 nameservers of a resolv.conf, minus our own addresses (no forwarding loops)."""
    servers = []
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if len(words) < 2 or words[0] != "nameserver" or ":" in words[1]:
                    continue
                if words[1] not in exclude and words[1] not in servers:
                    servers.append(words[1])
    except OSError:
        pass
    return servers


class Upstreams:
    """The node's resolvers, re-read from resolv.conf when the file changes."""

    def __init__(self, path: str = "/etc/resolv.conf", exclude: Tuple[str, ...] = ()) -> None:
        self.path = path
        self.exclude = exclude
        self._stamp: Optional[tuple] = None
        self._servers: List[str] = []
        self._lock = threading.Lock()

    def get(self) -> List[str]:
        stamp = file_stamp(self.path)
        with self._lock:
            if stamp != self._stamp:
                self._servers = read_resolv_conf(self.path, self.exclude)
                self._stamp = stamp
            return list(self._servers)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def exchange(data: bytes, server: str, port: int = 53, tcp: bool = False,
             timeout: float = UPSTREAM_TIMEOUT) -> bytes:  # fmt: skip
    """Send one DNS message to a server and return its reply (UDP, or TCP when asked)."""
    if tcp:
        with socket.create_connection((server, port), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(data)) + data)
            (length,) = struct.unpack("!H", _recv_exact(s, 2))
            return _recv_exact(s, length)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((server, port))
        s.send(data)
        ident = data[:2]
        while True:
            reply = s.recv(65535)
            if reply[:2] == ident:
                return reply


class Resolver:
    """Decides every answer: the zone first, then upstream. Transport-free (tested alone)."""

    def __init__(
        self,
        zone: Callable[[], Zone],
        upstreams: Callable[[], List[str]],
        exchange_fn: Callable[..., bytes] = exchange,
        upstream_port: int = 53,
    ) -> None:
        self._zone = zone
        self._upstreams = upstreams
        self._exchange = exchange_fn
        self._port = upstream_port

    def local(self, request: wire.Message) -> Optional[Answer]:
        """The zone's answer, or None when the question must go upstream."""
        if not request.questions:
            return None
        q = request.questions[0]
        return self._zone().lookup(q.name, q.qtype)

    def answer(self, data: bytes, tcp: bool = False, max_size: int = 512) -> Optional[bytes]:
        """Bytes to send back for a query (None: drop it, it was not a query at all)."""
        try:
            request = wire.parse(data)
        except wire.WireError:
            if len(data) >= 12:
                return data[:2] + struct.pack("!H", wire.QR | wire.FORMERR) + b"\0" * 8
            return None
        if request.flags & wire.QR:
            return None
        if request.opcode != 0 or len(request.questions) != 1:
            return wire.response(request, wire.NOTIMP, authoritative=False)
        if not tcp:
            max_size = request.edns_size() or 512
        answer = self.local(request)
        if answer is None:
            return self.forward(data, request, tcp)
        records = list(answer.records)
        rcode = answer.rcode
        authority = list(answer.authority)
        if answer.chase is not None:
            target, qtype = answer.chase
            extra = self._resolve_upstream(target, qtype)
            if extra is not None:
                rcode = extra.rcode
                records += extra.answers
                authority = extra.authority if not extra.answers else []
        return wire.response(request, rcode, records, authority, True, 65535 if tcp else max_size)

    def forward(self, data: bytes, request: wire.Message, tcp: bool) -> bytes:
        for server in self._upstreams():
            try:
                # relayed as is; a truncated UDP reply makes the client retry over TCP
                return self._exchange(data, server, self._port, tcp)
            except (OSError, wire.WireError) as err:
                log.debug("upstream %s failed: %s", server, err)
        return wire.response(request, wire.SERVFAIL, authoritative=False)

    def _resolve_upstream(self, name: str, qtype: int) -> Optional[wire.Message]:
        """The upstream's answer for an ExternalName target (None: no upstream answered)."""
        q = wire.query(random.getrandbits(16), name, qtype)
        for server in self._upstreams():
            try:
                reply = wire.parse(self._exchange(q, server, self._port, False))
                if reply.flags & wire.TC:
                    reply = wire.parse(self._exchange(q, server, self._port, True))
                return reply
            except (OSError, wire.WireError) as err:
                log.debug("upstream %s failed for %s: %s", server, name, err)
        return None


class DnsServer:
    """UDP + TCP listeners on one address, answering through a Resolver."""

    def __init__(self, resolver: Resolver, address: str, port: int = 53, workers: int = 8) -> None:
        self.resolver = resolver
        self.address = address
        self.port = port
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dns-fwd")
        self._stop = threading.Event()
        self._udp: Optional[socket.socket] = None
        self._tcp: Optional[socket.socket] = None
        self._threads: List[threading.Thread] = []

    def start(self) -> None:
        self._udp, self._tcp = self._bind()
        self._tcp.listen(64)
        for target, name in ((self._serve_udp, "dns-udp"), (self._serve_tcp, "dns-tcp")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("cluster DNS listening on %s:%d (udp, tcp)", self.address, self.port)

    def _bind(self) -> Tuple[socket.socket, socket.socket]:
        """UDP and TCP sockets on one port. Port 0 (tests): the port the kernel gives UDP,
        tried again with another when TCP's side of that number is taken."""
        for attempt in range(1 if self.port else BIND_ATTEMPTS):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            for s in (udp, tcp):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
            try:
                udp.bind((self.address, self.port))
                tcp.bind((self.address, udp.getsockname()[1]))
            except OSError as err:
                udp.close()
                tcp.close()
                if self.port or err.errno != errno.EADDRINUSE or attempt == BIND_ATTEMPTS - 1:
                    raise
                continue
            self.port = udp.getsockname()[1]
            return udp, tcp
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self._stop.set()
        for s in (self._udp, self._tcp):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
        self._pool.shutdown(wait=False)

    def _serve_udp(self) -> None:
        sock = self._udp
        assert sock is not None
        while not self._stop.is_set():
            try:
                data, client = sock.recvfrom(4096)
            except OSError:
                if self._stop.is_set():
                    return
                continue
            try:
                request = wire.parse(data)
                local = self.resolver.local(request) if not request.flags & wire.QR else None
            except wire.WireError:
                local = None
            if local is not None and local.chase is None:
                self._reply_udp(data, client)  # cluster names: answer right here
                continue
            try:
                self._pool.submit(self._reply_udp, data, client)
            except RuntimeError:  # pool shut down: we are stopping
                return

    def _reply_udp(self, data: bytes, client: Tuple[str, int]) -> None:
        try:
            reply = self.resolver.answer(data, tcp=False)
            if reply is not None and self._udp is not None:
                self._udp.sendto(reply, client)
        except Exception:  # one bad query must never stop the server
            log.exception("answering %s", client)

    def _serve_tcp(self) -> None:
        sock = self._tcp
        assert sock is not None
        while not self._stop.is_set():
            try:
                conn, _client = sock.accept()
            except OSError:
                if self._stop.is_set():
                    return
                continue
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket) -> None:
        conn.settimeout(TCP_IDLE)
        try:
            with conn:
                while True:
                    (length,) = struct.unpack("!H", _recv_exact(conn, 2))
                    reply = self.resolver.answer(_recv_exact(conn, length), tcp=True)
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except (OSError, ConnectionError, struct.error):
            return
        except Exception:
            log.exception("tcp client")
