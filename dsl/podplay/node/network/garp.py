"""Gratuitous ARP for the node's address when its uplink comes back (standard library).

A node cut off from its network and connected again (a new interface, `eth1`, same
address) is at once reachable by routing, but not by the neighbours' caches: during the
cut every peer that kept sending to it (the VRRP master's unicast adverts, the proxies'
watches, pod traffic) left its entry for the node FAILED or INCOMPLETE, re-probed only once
a second, and an engine that gives the new interface a new MAC leaves STALE entries pointing
at the old one. Until they resolve, the VRRP master's adverts do not reach the returning
node, whose keepalived (just reloaded onto the new interface) then claims MASTER after its
master-down interval (3 x 0.5 s + skew); as the higher priority it wins that dual-master
and takes the LoadBalancer IP back from the node that took over: a second interruption,
and one `nopreempt` was meant to prevent. Announcing the address the moment the uplink is
back updates every neighbour that has an entry for it (a gratuitous ARP overrides one in
any state), so the master's next advert arrives within half a second.

The frame is an ARP request for our own address (sender = target = the node address), to
the broadcast address: what `arping -U` sends, what every IPv4 stack takes as an update.
"""

from __future__ import annotations

import socket
import struct

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
REPEAT = 2  # back to back: a veth does not lose one, a second covers a busy bridge


def mac_bytes(mac: str) -> bytes:
    """`02:42:ac:1e:01:0b` -> 6 bytes; ValueError for anything else."""
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError("not a MAC address: %r" % mac)
    return bytes(int(p, 16) for p in parts)


def garp_frame(mac: str, address: str) -> bytes:
    """One Ethernet frame: the broadcast ARP request announcing `address` at `mac`."""
    src = mac_bytes(mac)
    ip = socket.inet_aton(address)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src + ip + b"\x00" * 6 + ip
    return BROADCAST + src + struct.pack("!H", ETH_P_ARP) + arp


def announce(interface: str, mac: str, address: str, repeat: int = REPEAT) -> None:
    """Send the gratuitous ARP on `interface` (needs CAP_NET_RAW); OSError when it cannot."""
    frame = garp_frame(mac, address)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))  # type: ignore[attr-defined]
    try:
        sock.bind((interface, ETH_P_ARP))
        for _ in range(repeat):
            sock.send(frame)
    finally:
        sock.close()
