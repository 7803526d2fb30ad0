"""The address rule of a node's pod CIDR, written once (pure; `ipaddress` only).

In a node's pod CIDR the network address and the broadcast address are reserved, the first
host (.1) is the pod bridge's gateway (where node-local DNS listens and the host routes
pods from), and pods get .2 up to the broadcast address - 1. Placement (planner and
controller) hands addresses out by it, `up` keeps a controller's binding only when it holds,
the agent refuses a manifest that breaks it, and the network setup, the proxy and
`podplay verify` find the gateway with it.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Optional, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

GATEWAY_OFFSET = 1
FIRST_POD_OFFSET = 2
# What an address is, when it is not a pod's (`problem`).
OUTSIDE = "outside"
RESERVED = "reserved"  # the network or the broadcast address
GATEWAY = "gateway"


@lru_cache(maxsize=1024)
def network(cidr: str) -> Network:
    """The pod CIDR as a network (host bits ignored, as the agent and the proxy read it)."""
    return ipaddress.ip_network(cidr, strict=False)


def gateway(cidr: str) -> str:
    """The pod bridge's own address: .1 of the pod CIDR."""
    return str(network(cidr).network_address + GATEWAY_OFFSET)


def last_pod_offset(cidr: str) -> int:
    """The offset of the highest pod address (the broadcast address - 1)."""
    return network(cidr).num_addresses - 2


def pod_address_count(cidr: str) -> int:
    """How many pod addresses the CIDR has (network, gateway and broadcast excluded)."""
    return max(0, last_pod_offset(cidr) - FIRST_POD_OFFSET + 1)


def address(cidr: str, offset: int) -> str:
    """The address `offset` places after the network address."""
    return str(network(cidr).network_address + offset)


def offset_in(cidr: str, ip: str) -> Optional[int]:
    """The offset of `ip` in `cidr` (any address of it), None when outside or not an IP."""
    net = network(cidr)
    try:
        offset = int(ipaddress.ip_address(ip)) - int(net.network_address)
    except ValueError:
        return None
    return offset if 0 <= offset < net.num_addresses else None


def pod_offset(cidr: str, ip: Optional[str]) -> Optional[int]:
    """The offset of `ip` when it is a pod address of `cidr` (.2 to broadcast - 1), else None."""
    offset = offset_in(cidr, ip) if ip else None
    if offset is None or not FIRST_POD_OFFSET <= offset <= last_pod_offset(cidr):
        return None
    return offset


def problem(cidr: str, ip: str) -> Optional[str]:
    """Why `ip` is not a pod address of `cidr`: OUTSIDE, RESERVED or GATEWAY; None when it
    is one. ValueError when `ip` is not an IP address."""
    net = network(cidr)
    addr = ipaddress.ip_address(ip)
    if addr not in net:
        return OUTSIDE
    if addr in (net.network_address, net.broadcast_address):
        return RESERVED
    if addr == net.network_address + GATEWAY_OFFSET:
        return GATEWAY
    return None
