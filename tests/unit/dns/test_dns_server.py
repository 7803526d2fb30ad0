"""The DNS server over real sockets on loopback, checked with our codec and with dig.

Two servers: an "upstream" that answers example names, and the cluster server in front
of it (upstream port redirected), so forwarding and ExternalName chasing run end to end.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess

import pytest

from podplay.node.dns import wire
from podplay.node.dns.server import DnsServer, Resolver, exchange, read_resolv_conf
from podplay.node.dns.zone import ServiceRecord, Zone, build_zone

UPSTREAM_NAMES = {"db.example.org": "203.0.113.7", "pypi.example.org": "198.51.100.4"}


def upstream_zone() -> Zone:
    z = Zone("example.org")
    for name, ip in UPSTREAM_NAMES.items():
        z.add_a(name, ip)
    return z


@pytest.fixture
def servers():
    up_zone = upstream_zone()
    upstream = DnsServer(Resolver(lambda: up_zone, lambda: []), "127.0.0.1", 0)
    upstream.start()
    cluster_zone = build_zone(
        [
            ServiceRecord("web", "default", "10.96.0.20", None, (("http", "TCP", 80),), ()),
            ServiceRecord("ext", "default", None, "db.example.org", (), ()),
        ],
        "cluster.local",
        "10.96.0.0/16",
    )
    holder = {"zone": cluster_zone}
    cluster = DnsServer(
        Resolver(lambda: holder["zone"], lambda: ["127.0.0.1"], upstream_port=upstream.port),
        "127.0.0.1",
        0,
    )
    cluster.start()
    yield cluster, holder
    cluster.stop()
    upstream.stop()


def ask(port: int, name: str, qtype: int = wire.A, tcp: bool = False) -> wire.Message:
    return wire.parse(exchange(wire.query(7, name, qtype), "127.0.0.1", port, tcp=tcp))


def test_udp_and_tcp_answers(servers):
    cluster, _ = servers
    for tcp in (False, True):
        reply = ask(cluster.port, "web.default.svc.cluster.local", tcp=tcp)
        assert [wire.rdata_text(r) for r in reply.answers] == ["10.96.0.20"]


def test_forwarding_and_external_name_end_to_end(servers):
    cluster, _ = servers
    reply = ask(cluster.port, "pypi.example.org")
    assert [wire.rdata_text(r) for r in reply.answers] == ["198.51.100.4"]
    reply = ask(cluster.port, "ext.default.svc.cluster.local")
    assert [wire.rdata_text(r) for r in reply.answers] == ["db.example.org", "203.0.113.7"]


def test_zone_swap_is_seen_by_the_next_query(servers):
    cluster, holder = servers
    holder["zone"] = build_zone(
        [ServiceRecord("web", "default", "10.96.0.99", None, (), ())],
        "cluster.local",
        "10.96.0.0/16",
    )
    reply = ask(cluster.port, "web.default.svc.cluster.local")
    assert [wire.rdata_text(r) for r in reply.answers] == ["10.96.0.99"]


def test_a_bad_packet_does_not_stop_the_server(servers):
    cluster, _ = servers
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\xff", ("127.0.0.1", cluster.port))
    with socket.create_connection(("127.0.0.1", cluster.port)) as s:
        s.sendall(struct.pack("!H", 3) + b"abc")
    assert ask(cluster.port, "web.default.svc.cluster.local").answers


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig (dnsutils) is not installed")
def test_a_real_client_agrees(servers):
    cluster, _ = servers

    def dig(*args: str) -> str:
        out = subprocess.run(
            ["dig", "@127.0.0.1", "-p", str(cluster.port), "+time=2", "+tries=1", *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout

    out = dig("ext.default.svc.cluster.local", "A")
    assert "status: NOERROR" in out
    assert "CNAME\tdb.example.org." in out and "203.0.113.7" in out
    out = dig("+tcp", "web.default.svc.cluster.local")
    assert "10.96.0.20" in out and "flags: qr aa" in out
    assert "status: NXDOMAIN" in dig("nope.default.svc.cluster.local")


def test_resolv_conf_parsing_skips_our_own_addresses(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "search x\nnameserver 10.96.0.10\nnameserver 127.0.0.11\nnameserver ::1\n"
        "nameserver 192.0.2.1\nnameserver 127.0.0.11\noptions ndots:0\n"
    )
    assert read_resolv_conf(str(conf), exclude=("10.96.0.10",)) == ["127.0.0.11", "192.0.2.1"]


def test_on_port_0_a_udp_port_whose_tcp_twin_is_taken_is_passed_over(monkeypatch) -> None:
    """The kernel picks UDP's port; TCP's side of that number may be some connection's."""
    import errno

    from podplay.node.dns import server as server_module

    real_socket = socket.socket
    refused: list[int] = []

    class FirstTcpBindTaken(real_socket):  # type: ignore[misc, valid-type]
        def bind(self, address) -> None:  # type: ignore[no-untyped-def]
            if self.type == socket.SOCK_STREAM and not refused:
                refused.append(address[1])
                raise OSError(errno.EADDRINUSE, "Address already in use")
            super().bind(address)

    monkeypatch.setattr(server_module.socket, "socket", FirstTcpBindTaken)
    dns = DnsServer(Resolver(lambda: Zone("cluster.local"), lambda: []), "127.0.0.1", 0)
    dns.start()
    try:
        assert refused and dns.port != 0
        assert dns._tcp is not None and dns._tcp.getsockname()[1] == dns.port
    finally:
        dns.stop()
    # a port asked for is not changed behind the caller's back
    refused.clear()
    fixed = DnsServer(Resolver(lambda: Zone("cluster.local"), lambda: []), "127.0.0.1", 1053)
    with pytest.raises(OSError):
        fixed.start()
