"""Service addresses: ClusterIPs, NodePorts and LoadBalancer IPs, stable across runs.

Three passes, as for every allocator here: what the program asks for explicitly, then what
the previous plan gave (if still free and valid), then new ones. A new ClusterIP or NodePort
starts at a hash of the service's name and probes upwards, so a service's address does not
depend on which other services exist, even when planning from nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from podplay.dsl import Cluster, ProgramError, Service
from podplay.dsl.fields import NODE_PORT_RANGE
from podplay.dsl.network import pool_addresses
from podplay.plan.model import Plan

DNS_OFFSET = 10
RESERVED_OFFSETS = (1, DNS_OFFSET)  # .1 (as Kubernetes' API service) and .10 (cluster DNS)

ServiceKey = tuple[str, str]  # (namespace, name)
PortKey = tuple[str, str, int, str]  # (namespace, name, port, protocol)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def dns_ip(service_cidr: str) -> str:
    """The cluster DNS address: offset 10 of the service CIDR."""
    return str(IPv4Network(service_cidr)[DNS_OFFSET])


@dataclass
class Addresses:
    """What the allocators decided, looked up by service (and port)."""

    cluster_ips: dict[ServiceKey, str]
    node_ports: dict[PortKey, int]
    lb_ips: dict[ServiceKey, str | None]


def allocate(
    cluster: Cluster,
    services: list[Service],
    previous: Plan | None,
    lb_pool: str | None,
) -> Addresses:
    """ClusterIPs, NodePorts and LoadBalancer IPs for `services` (sorted by key)."""
    return Addresses(
        cluster_ips=_cluster_ips(cluster, services, previous),
        node_ports=_node_ports(services, previous),
        lb_ips=_lb_ips(cluster, services, previous, lb_pool),
    )


def _cluster_ips(
    cluster: Cluster, services: list[Service], previous: Plan | None
) -> dict[ServiceKey, str]:
    net = IPv4Network(cluster.service_cidr)
    base = int(net.network_address)
    size = net.num_addresses
    candidates = [o for o in range(2, size - 1) if o not in RESERVED_OFFSETS]
    wanted = [s for s in services if s.type != "ExternalName"]
    before: dict[ServiceKey, str] = {}
    if previous is not None and previous.cluster.service_cidr == cluster.service_cidr:
        before = {(s.namespace, s.name): s.cluster_ip for s in previous.services if s.cluster_ip}

    out: dict[ServiceKey, str] = {}
    used: set[int] = set()
    for service in wanted:  # explicit (inside the CIDR, unreserved, unique: the DSL checked)
        if service.static_cluster_ip is not None:
            out[(service.namespace, service.name)] = service.static_cluster_ip
            used.add(int(IPv4Address(service.static_cluster_ip)) - base)
    for service in wanted:
        key = (service.namespace, service.name)
        ip = before.get(key)
        if ip is None or key in out:
            continue
        offset = int(IPv4Address(ip)) - base
        if 2 <= offset < size - 1 and offset not in RESERVED_OFFSETS and offset not in used:
            out[key] = ip
            used.add(offset)
    for service in wanted:
        key = (service.namespace, service.name)
        if key in out:
            continue
        start = _hash(f"{service.namespace}/{service.name}") % len(candidates)
        offset = _probe(candidates, start, used)
        if offset is None:
            raise ProgramError.one(
                service.location,
                service.describe(),
                f"no free ClusterIP left in service_cidr {cluster.service_cidr} "
                f"({len(candidates)} addresses); use a larger service_cidr",
            )
        used.add(offset)
        out[key] = str(IPv4Address(base + offset))
    return out


def _probe(candidates: list[int], start: int, used: set[int]) -> int | None:
    n = len(candidates)
    for k in range(n):
        value = candidates[(start + k) % n]
        if value not in used:
            return value
    return None


def _port_keys(services: Iterable[Service]) -> list[tuple[Service, int, PortKey]]:
    out = []
    for service in services:
        if service.type not in ("NodePort", "LoadBalancer"):
            continue
        for i, port in enumerate(service.ports):
            out.append((service, i, (service.namespace, service.name, port.port, port.protocol)))
    return out


def _node_ports(services: list[Service], previous: Plan | None) -> dict[PortKey, int]:
    low, high = NODE_PORT_RANGE
    wanted = _port_keys(services)
    out: dict[PortKey, int] = {}
    used: set[int] = set()
    for service, i, key in wanted:  # explicit (unique: the DSL checked)
        node_port = service.ports[i].node_port
        if node_port is not None:
            out[key] = node_port
            used.add(node_port)
    before: dict[PortKey, int] = {}
    if previous is not None:
        for s in previous.services:
            for p in s.ports:
                if p.node_port is not None:
                    before[(s.namespace, s.name, p.port, p.protocol)] = p.node_port
    for _service, _i, key in wanted:
        port = before.get(key)
        if key not in out and port is not None and low <= port <= high and port not in used:
            out[key] = port
            used.add(port)
    candidates = list(range(low, high + 1))
    for service, _i, key in wanted:
        if key in out:
            continue
        start = _hash("/".join(map(str, key))) % len(candidates)
        port = _probe(candidates, start, used)
        if port is None:
            raise ProgramError.one(
                service.location,
                service.describe(),
                f"no free node port left in {low}-{high}; remove NodePort services",
            )
        used.add(port)
        out[key] = port
    return out


def _lb_ips(
    cluster: Cluster, services: list[Service], previous: Plan | None, lb_pool: str | None
) -> dict[ServiceKey, str | None]:
    wanted = [s for s in services if s.type == "LoadBalancer"]
    if not wanted:
        return {}
    if lb_pool is None:
        if cluster.local:
            return {(s.namespace, s.name): None for s in wanted}  # known once the cluster exists
        first = wanted[0]
        raise ProgramError.one(
            first.location,
            first.describe(),
            'type "LoadBalancer" needs an address pool: set '
            'Cluster(..., lb_pool="192.0.2.240/28") to addresses on the nodes\' network',
        )
    pool = [str(a) for a in pool_addresses(lb_pool)]
    out = _explicit_lb_ips(wanted, lb_pool, set(pool))
    _keep_lb_ips(out, wanted, previous, set(pool))
    _new_lb_ips(out, wanted, lb_pool, pool)
    return out


def _explicit_lb_ips(
    wanted: list[Service], lb_pool: str, in_pool: set[str]
) -> dict[ServiceKey, str | None]:
    """The `load_balancer_ip`s the program asks for (unique: the DSL checked)."""
    out: dict[ServiceKey, str | None] = {}
    for service in wanted:
        ip = service.load_balancer_ip
        if ip is None:
            continue
        if ip not in in_pool:
            raise ProgramError.one(
                service.location,
                service.describe(),
                f'load_balancer_ip "{ip}" is outside the cluster\'s LoadBalancer pool "{lb_pool}"',
            )
        out[(service.namespace, service.name)] = ip
    return out


def _keep_lb_ips(
    out: dict[ServiceKey, str | None],
    wanted: list[Service],
    previous: Plan | None,
    in_pool: set[str],
) -> None:
    """The previous plan's IPs for services still without one, if in the pool and free."""
    if previous is None:
        return
    before = {
        (s.namespace, s.name): s.load_balancer_ip
        for s in previous.services
        if s.load_balancer_ip is not None
    }
    used = set(out.values())
    for service in wanted:
        key = (service.namespace, service.name)
        ip = before.get(key)
        if key not in out and ip in in_pool and ip not in used:
            out[key] = ip
            used.add(ip)


def _new_lb_ips(
    out: dict[ServiceKey, str | None], wanted: list[Service], lb_pool: str, pool: list[str]
) -> None:
    """The lowest free pool IPs, in service order, for the services still without one."""
    used = set(out.values())
    free = (ip for ip in pool if ip not in used)
    for service in wanted:
        key = (service.namespace, service.name)
        if key in out:
            continue
        ip = next(free, None)
        if ip is None:
            raise ProgramError.one(
                service.location,
                service.describe(),
                f'no free LoadBalancer IP left in pool "{lb_pool}" ({len(pool)} addresses, '
                "all in use); widen the pool or use fewer LoadBalancer services",
            )
        out[key] = ip
