"""Address arithmetic the DSL validates and the planner allocates from (IPv4 only)."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network

MAX_POOL = 65536
# offsets of the service CIDR no service gets: .1 (as Kubernetes' API service) and .10
# (cluster DNS); the planner allocates around the same ones (a unit test keeps them equal)
SERVICE_RESERVED_OFFSETS = (1, 10)


def parse_network(text: str) -> IPv4Network:
    """`10.244.0.0/16` → network; ValueError naming the rule (host bits must be zero)."""
    try:
        return IPv4Network(text, strict=True)
    except (ValueError, TypeError) as err:
        raise ValueError("is not an IPv4 network like 10.244.0.0/16") from err


def parse_address(text: str) -> IPv4Address:
    """`172.30.5.11` → address; ValueError naming the rule."""
    try:
        return IPv4Address(text)
    except (ValueError, TypeError) as err:
        raise ValueError("is not an IPv4 address like 192.0.2.10") from err


def pool_addresses(text: str) -> list[IPv4Address]:
    """A LoadBalancer pool, `192.0.2.240/28` or `192.0.2.240-192.0.2.250`, as addresses.

    A CIDR pool leaves out its network and broadcast addresses (unless it is a /31 or /32).
    """
    rule = "is not a pool like 192.0.2.240/28 or 192.0.2.240-192.0.2.250"
    if "-" in text:
        first, _, last = text.partition("-")
        try:
            start, end = IPv4Address(first.strip()), IPv4Address(last.strip())
        except ValueError as err:
            raise ValueError(rule) from err
        if end < start:
            raise ValueError(f"{rule} (the range runs backwards)")
        count = int(end) - int(start) + 1
        if count > MAX_POOL:
            raise ValueError(f"holds {count} addresses; at most {MAX_POOL}")
        return [IPv4Address(int(start) + i) for i in range(count)]
    try:
        net = ipaddress.IPv4Network(text, strict=True)
    except ValueError as err:
        raise ValueError(rule) from err
    if net.num_addresses > MAX_POOL:
        raise ValueError(f"holds {net.num_addresses} addresses; at most {MAX_POOL}")
    if net.prefixlen >= 31:
        return list(net)
    return list(net.hosts())


def pool_overlaps(pool: list[IPv4Address], net: IPv4Network) -> bool:
    """True when any address of the pool is inside `net`."""
    return bool(pool) and (pool[0] in net or pool[-1] in net or (pool[0] < net[0] < pool[-1]))


def node_subnet(pod_cidr: IPv4Network, index: int) -> IPv4Network:
    """Node `index` (1-based) gets the `index`-th /24 of the cluster pod CIDR (node README)."""
    return IPv4Network((int(pod_cidr.network_address) + index * 256, 24))


def node_subnet_count(pod_cidr: IPv4Network) -> int:
    """How many nodes a pod CIDR holds: its /24s, the first (index 0) left unused."""
    return max(0, 2 ** (24 - pod_cidr.prefixlen) - 1)


def check_cluster_ip(address: str, service_cidr: str) -> str | None:
    """None when `address` may be a service's ClusterIP in `service_cidr`, else why not."""
    net = IPv4Network(service_cidr)
    offset = int(IPv4Address(address)) - int(net.network_address)
    if not 0 <= offset < net.num_addresses:
        return f"is outside the cluster's service_cidr {service_cidr}"
    if offset == 0 or offset == net.num_addresses - 1:
        return f"is the network or broadcast address of service_cidr {service_cidr}"
    if offset in SERVICE_RESERVED_OFFSETS:
        return f"is reserved (.1 and .10 of service_cidr {service_cidr}: .10 is cluster DNS)"
    return None
