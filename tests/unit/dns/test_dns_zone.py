"""The cluster zone and the resolver's decisions, without sockets."""

from __future__ import annotations

import pytest

from podplay.node.dns import wire
from podplay.node.dns.server import Resolver
from podplay.node.dns.zone import ServiceRecord, build_zone, reverse_zones

SERVICES = [
    ServiceRecord("web", "default", "10.96.0.20", None, (("http", "TCP", 80),), ()),
    ServiceRecord("api", "shop", "10.96.3.4", None, ((None, "TCP", 8080),), ()),
    ServiceRecord("ext", "default", None, "db.example.org", (), ()),
    ServiceRecord("alias", "default", None, "web.default.svc.cluster.local", (), ()),
    ServiceRecord("peers", "default", None, None, (), ("10.244.2.11", "10.244.1.11")),
]


@pytest.fixture
def zone():
    return build_zone(SERVICES, "cluster.local", "10.96.0.0/16")


def texts(answer):
    return [(wire.TYPE_NAMES[r.rtype], wire.rdata_text(r)) for r in answer.records]


def test_service_a_record(zone):
    a = zone.lookup("web.default.svc.cluster.local", wire.A)
    assert (a.rcode, texts(a)) == (wire.NOERROR, [("A", "10.96.0.20")])
    assert zone.lookup("WEB.Default.svc.cluster.local.", wire.A).records[0].name == (
        "WEB.Default.svc.cluster.local"
    )


def test_missing_name_is_nxdomain_with_soa(zone):
    a = zone.lookup("nope.default.svc.cluster.local", wire.A)
    assert a.rcode == wire.NXDOMAIN and a.authority[0].rtype == wire.SOA
    # the search-path expansions a pod tries first must fail fast, locally
    a = zone.lookup("example.com.default.svc.cluster.local", wire.A)
    assert a.rcode == wire.NXDOMAIN


def test_existing_name_without_that_type_is_nodata(zone):
    a = zone.lookup("web.default.svc.cluster.local", wire.AAAA)
    assert (a.rcode, a.records) == (wire.NOERROR, [])
    for parent in ("default.svc.cluster.local", "svc.cluster.local", "cluster.local"):
        assert zone.lookup(parent, wire.A).rcode == wire.NOERROR


def test_srv_for_named_ports(zone):
    a = zone.lookup("_http._tcp.web.default.svc.cluster.local", wire.SRV)
    assert texts(a) == [("SRV", "0 100 80 web.default.svc.cluster.local")]


def test_ptr_for_cluster_ips(zone):
    a = zone.lookup("4.3.96.10.in-addr.arpa", wire.PTR)
    assert texts(a) == [("PTR", "api.shop.svc.cluster.local")]
    assert zone.lookup("9.9.96.10.in-addr.arpa", wire.PTR).rcode == wire.NXDOMAIN
    assert zone.lookup("5.1.244.10.in-addr.arpa", wire.PTR) is None  # not ours: forward


def test_external_name_is_a_cname_to_be_chased_upstream(zone):
    a = zone.lookup("ext.default.svc.cluster.local", wire.A)
    assert texts(a) == [("CNAME", "db.example.org")]
    assert a.chase == ("db.example.org", wire.A)
    assert zone.lookup("ext.default.svc.cluster.local", wire.CNAME).chase is None


def test_external_name_inside_the_cluster_resolves_locally(zone):
    a = zone.lookup("alias.default.svc.cluster.local", wire.A)
    assert texts(a) == [("CNAME", "web.default.svc.cluster.local"), ("A", "10.96.0.20")]
    assert a.chase is None


def test_headless_service_answers_ready_pods(zone):
    a = zone.lookup("peers.default.svc.cluster.local", wire.A)
    assert texts(a) == [("A", "10.244.1.11"), ("A", "10.244.2.11")]
    empty = build_zone(
        [ServiceRecord("peers", "default", None, None, (), ())], "cluster.local", "10.96.0.0/16"
    )
    a = empty.lookup("peers.default.svc.cluster.local", wire.A)
    assert (a.rcode, a.records) == (wire.NOERROR, [])


def test_names_outside_the_cluster_domain_are_not_ours(zone):
    assert zone.lookup("example.org", wire.A) is None
    assert zone.lookup("localcluster.local", wire.A) is None


@pytest.mark.parametrize(
    "cidr,zones",
    [
        ("10.96.0.0/16", ["96.10.in-addr.arpa"]),
        ("10.96.0.0/24", ["0.96.10.in-addr.arpa"]),
        ("10.96.0.0/15", ["96.10.in-addr.arpa", "97.10.in-addr.arpa"]),
    ],
)
def test_reverse_zones(cidr, zones):
    assert reverse_zones(cidr) == zones


# -- the resolver ------------------------------------------------------------------------------


class FakeUpstream:
    """An upstream resolver that knows a few names; records every exchange."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, data: bytes, server: str, port: int, tcp: bool) -> bytes:
        self.calls.append((server, tcp))
        if server == "192.0.2.99":
            raise OSError("timed out")
        req = wire.parse(data)
        q = req.questions[0]
        ip = self.names.get(q.name.lower())
        if ip is None:
            return wire.response(req, wire.NXDOMAIN, authoritative=False)
        answers = [wire.RR(q.name, wire.A, wire.IN, 60, wire.rdata_a(ip))] if q.qtype == 1 else []
        return wire.response(req, wire.NOERROR, answers, authoritative=False)


def resolver(zone, upstream, servers=("192.0.2.53",)):
    return Resolver(lambda: zone, lambda: list(servers), upstream)


def ask(res, name, qtype=wire.A, tcp=False):
    return wire.parse(res.answer(wire.query(4242, name, qtype), tcp=tcp))


def test_resolver_answers_cluster_names_authoritatively(zone):
    up = FakeUpstream({})
    reply = ask(resolver(zone, up), "web.default.svc.cluster.local")
    assert reply.id == 4242 and reply.flags & wire.AA and reply.flags & wire.QR
    assert [wire.rdata_text(r) for r in reply.answers] == ["10.96.0.20"]
    assert up.calls == []


def test_resolver_forwards_other_names_and_fails_over(zone):
    up = FakeUpstream({"pypi.org": "151.101.0.223"})
    reply = ask(resolver(zone, up, ("192.0.2.99", "192.0.2.53")), "pypi.org")
    assert [wire.rdata_text(r) for r in reply.answers] == ["151.101.0.223"]
    assert [c[0] for c in up.calls] == ["192.0.2.99", "192.0.2.53"]


def test_resolver_servfail_when_no_upstream_answers(zone):
    reply = ask(resolver(zone, FakeUpstream({}), ("192.0.2.99",)), "pypi.org")
    assert reply.rcode == wire.SERVFAIL


def test_external_name_answer_carries_cname_and_target_address(zone):
    up = FakeUpstream({"db.example.org": "203.0.113.7"})
    reply = ask(resolver(zone, up), "ext.default.svc.cluster.local")
    assert reply.rcode == wire.NOERROR
    assert [(wire.TYPE_NAMES[r.rtype], wire.rdata_text(r)) for r in reply.answers] == [
        ("CNAME", "db.example.org"),
        ("A", "203.0.113.7"),
    ]


def test_external_name_to_a_missing_target_keeps_the_cname_and_says_nxdomain(zone):
    reply = ask(resolver(zone, FakeUpstream({})), "ext.default.svc.cluster.local")
    assert reply.rcode == wire.NXDOMAIN
    assert [r.rtype for r in reply.answers] == [wire.CNAME]


def test_garbage_and_responses_are_not_answered_as_queries(zone):
    res = resolver(zone, FakeUpstream({}))
    assert res.answer(b"\x01") is None
    not_a_query = wire.build(1, wire.QR, [wire.Question("x", 1, 1)])
    assert res.answer(not_a_query) is None
    formerr = wire.parse(res.answer(b"\x00\x07" + b"\x00\x00\x00\x05" + b"\x00" * 6))
    assert formerr.rcode == wire.FORMERR


def test_large_udp_answer_is_truncated_for_tcp_retry():
    many = ServiceRecord(
        "big",
        "default",
        None,
        None,
        (),
        tuple(f"10.244.{i // 250}.{i % 250 + 2}" for i in range(100)),
    )
    zone = build_zone([many], "cluster.local", "10.96.0.0/16")
    res = resolver(zone, FakeUpstream({}))
    udp = ask(res, "big.default.svc.cluster.local")
    assert udp.flags & wire.TC and udp.answers == []
    tcp = ask(res, "big.default.svc.cluster.local", tcp=True)
    assert len(tcp.answers) == 100
