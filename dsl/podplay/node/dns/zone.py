"""The cluster's DNS data, built from the service table and answered like CoreDNS would.

Pure: `build_zone(services, ready, domain, service_cidr)` -> Zone; `Zone.lookup(name, type)`
-> Answer, or None when the name is not ours (the server forwards it upstream).

- `<svc>.<ns>.svc.<domain>` A -> the ClusterIP; a headless service -> its ready pods' IPs.
- `_<port>._<proto>.<svc>.<ns>.svc.<domain>` SRV for named ports.
- ExternalName -> a CNAME to `external_name`; the target's own records are appended, from
  this zone when the target is in the cluster domain, otherwise resolved upstream by the
  server (`Answer.chase`), which is what Kubernetes' CoreDNS does: a pod's stub resolver
  never chases a CNAME itself.
- PTR for ClusterIPs. Names under the cluster domain (or the service CIDR's reverse zone)
  that do not exist -> NXDOMAIN with the zone's SOA; existing names asked for a type they
  lack -> NOERROR with no answer (so AAAA lookups do not fail IPv4 names).
"""

from __future__ import annotations

import ipaddress
from typing import AbstractSet, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from podplay.node.dns import wire

TTL = 5
MAX_CHAIN = 8


class Answer(NamedTuple):
    rcode: int
    records: List[wire.RR]
    authority: List[wire.RR]
    chase: Optional[Tuple[str, int]] = None  # (external name, qtype): resolve upstream, append


class ServiceRecord(NamedTuple):
    """What DNS needs of one service (kept free of the proxy's types: DNS stands alone)."""

    name: str
    namespace: str
    cluster_ip: Optional[str]
    external_name: Optional[str]
    ports: Tuple[Tuple[Optional[str], str, int], ...]  # (name, protocol, port)
    ready_ips: Tuple[str, ...]  # headless services answer with their ready pods


def _lower(name: str) -> str:
    return name.strip(".").lower()


class Zone:
    def __init__(self, domain: str, reverse_zones: Iterable[str] = (), serial: int = 1) -> None:
        self.domain = _lower(domain)
        self.reverse_zones = [_lower(z) for z in reverse_zones]
        self.serial = serial
        self.a: Dict[str, List[str]] = {}
        self.cname: Dict[str, str] = {}
        self.srv: Dict[str, List[Tuple[int, str]]] = {}
        self.ptr: Dict[str, str] = {}
        self.existing: Set[str] = {self.domain, *self.reverse_zones}

    # -- building ----------------------------------------------------------------------------
    def _own(self, name: str) -> str:
        name = _lower(name)
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[i:])
            self.existing.add(parent)
            if parent == self.domain or parent in self.reverse_zones:
                break
        self.existing.add(name)
        return name

    def add_a(self, name: str, ip: str) -> None:
        self.a.setdefault(self._own(name), []).append(ip)

    def add_cname(self, name: str, target: str) -> None:
        self.cname[self._own(name)] = target.strip(".")

    def add_srv(self, name: str, port: int, target: str) -> None:
        self.srv.setdefault(self._own(name), []).append((port, target))

    def add_ptr(self, ip: str, target: str) -> None:
        self.ptr[self._own(ipaddress.IPv4Address(ip).reverse_pointer)] = target

    # -- answering ---------------------------------------------------------------------------
    def authoritative_for(self, name: str) -> bool:
        n = _lower(name)
        return any(n == z or n.endswith("." + z) for z in [self.domain, *self.reverse_zones])

    def soa(self) -> wire.RR:
        return wire.RR(
            self.domain,
            wire.SOA,
            wire.IN,
            TTL,
            wire.rdata_soa(
                "ns.dns." + self.domain, "hostmaster." + self.domain, self.serial,
                7200, 1800, 86400, TTL,
            ),
        )  # fmt: skip

    def lookup(self, qname: str, qtype: int, _depth: int = 0) -> Optional[Answer]:
        """The answer for a question, or None when the name is not in this zone."""
        n = _lower(qname)
        owner = qname.strip(".")
        if not self.authoritative_for(n):
            return None
        if n in self.cname:
            target = self.cname[n]
            rr = wire.RR(owner, wire.CNAME, wire.IN, TTL, wire.rdata_name(target))
            if qtype == wire.CNAME:
                return Answer(wire.NOERROR, [rr], [])
            if self.authoritative_for(target) and _depth < MAX_CHAIN:
                sub = self.lookup(target, qtype, _depth + 1)
                if sub is not None:
                    return Answer(sub.rcode, [rr, *sub.records], sub.authority, sub.chase)
            return Answer(wire.NOERROR, [rr], [], (target, qtype))
        if n not in self.existing:
            return Answer(wire.NXDOMAIN, [], [self.soa()])
        records: List[wire.RR] = []
        if qtype in (wire.A, wire.ANY):
            records += [
                wire.RR(owner, wire.A, wire.IN, TTL, wire.rdata_a(ip)) for ip in self.a.get(n, [])
            ]
        if qtype in (wire.SRV, wire.ANY):
            records += [
                wire.RR(owner, wire.SRV, wire.IN, TTL, wire.rdata_srv(0, 100, port, target))
                for port, target in self.srv.get(n, [])
            ]
        if qtype in (wire.PTR, wire.ANY) and n in self.ptr:
            records.append(wire.RR(owner, wire.PTR, wire.IN, TTL, wire.rdata_name(self.ptr[n])))
        if qtype == wire.SOA and n == self.domain:
            records.append(self.soa())
        if records:
            return Answer(wire.NOERROR, records, [])
        return Answer(wire.NOERROR, [], [self.soa()])


def reverse_zones(cidr: str) -> List[str]:
    """in-addr.arpa zones covering exactly `cidr` (its prefix rounded up to whole octets)."""
    net = ipaddress.IPv4Network(cidr, strict=False)
    prefix = min(24, -(-net.prefixlen // 8) * 8)
    subnets = list(net.subnets(new_prefix=prefix)) if prefix > net.prefixlen else [net]
    if len(subnets) > 256:
        return []
    zones = []
    for sub in subnets:
        octets = str(sub.network_address).split(".")[: prefix // 8]
        zones.append(".".join(reversed(octets)) + ".in-addr.arpa")
    return zones


def build_zone(
    services: Iterable[ServiceRecord], domain: str, service_cidr: str, serial: int = 1
) -> Zone:
    """The zone for a service table (ready_ips already filtered to ready endpoints)."""
    zone = Zone(domain, reverse_zones(service_cidr), serial)
    for svc in services:
        fqdn = "%s.%s.svc.%s" % (svc.name, svc.namespace, zone.domain)
        if svc.external_name:
            zone.add_cname(fqdn, svc.external_name)
            continue
        if svc.cluster_ip:
            zone.add_a(fqdn, svc.cluster_ip)
            zone.add_ptr(svc.cluster_ip, fqdn)
            for name, proto, port in svc.ports:
                if name:
                    zone.add_srv("_%s._%s.%s" % (name, proto.lower(), fqdn), port, fqdn)
        else:  # headless: the ready pods themselves
            zone._own(fqdn)
            for ip in sorted(set(svc.ready_ips), key=lambda x: ipaddress.IPv4Address(x)):
                zone.add_a(fqdn, ip)
    return zone


def records_from_state(state, ready: AbstractSet) -> List[ServiceRecord]:
    """Adapter from the proxy's ClusterState + ready endpoints (duck-typed: no import)."""
    out = []
    for s in state.services:
        out.append(
            ServiceRecord(
                name=s.name,
                namespace=s.namespace,
                cluster_ip=s.cluster_ip,
                external_name=s.external_name,
                ports=tuple((p.name, p.protocol, p.port) for p in s.ports),
                ready_ips=tuple(e.ip for e in s.endpoints if e in ready),
            )
        )
    return out
