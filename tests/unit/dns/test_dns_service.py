"""Cluster DNS fed by the proxy's state: each update is a new zone with a new serial."""

from __future__ import annotations

from types import SimpleNamespace

from podplay.node.dns.service import ClusterDns


def service(name: str, ip: str) -> SimpleNamespace:
    return SimpleNamespace(
        name=name, namespace="default", cluster_ip=ip, type="ClusterIP", external_name=None,
        ports=(), endpoints=(),
    )  # fmt: skip


def test_each_update_replaces_the_zone_whole() -> None:
    dns = ClusterDns()
    empty = dns.get()
    state = SimpleNamespace(
        services=(service("shop", "10.96.0.20"),), cluster_domain="cluster.local",
        service_cidr="10.96.0.0/16",
    )  # fmt: skip
    dns.update(state, frozenset())
    zone = dns.get()
    assert zone is not empty and dns.serial == 1
    assert zone.serial == 1
    assert zone.a["shop.default.svc.cluster.local"] == ["10.96.0.20"]
    assert "shop.default.svc.cluster.local" not in empty.a
    dns.update(state, frozenset())
    assert dns.get() is not zone and dns.get().serial == 2
