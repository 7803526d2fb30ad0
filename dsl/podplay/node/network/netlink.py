"""Link, address and route changes as they happen: an rtnetlink socket (standard library).

The repairer sleeps on this socket (and its timers): when an interface goes or comes, an
IPv4 address is added or removed, or a route changes, the kernel sends a message and the
repairer looks at the node at once instead of at its next tick. Only the message types are
read (to say why it woke); what changed is read afresh from the node, never from the event.
"""

from __future__ import annotations

import socket
import struct
from typing import List, Optional

NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE

TYPES = {
    16: "link added",
    17: "link removed",
    20: "address added",
    21: "address removed",
    24: "route added",
    25: "route removed",
}
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id


def message_types(datagram: bytes) -> List[str]:
    """The names of the rtnetlink messages in one datagram (unknown types left out)."""
    out: List[str] = []
    offset = 0
    while offset + _HEADER.size <= len(datagram):
        length, kind, _flags, _seq, _pid = _HEADER.unpack_from(datagram, offset)
        if length < _HEADER.size:
            break
        if kind in TYPES:
            out.append(TYPES[kind])
        offset += (length + 3) & ~3  # messages are 4-byte aligned
    return out


class LinkEvents:
    """A non-blocking rtnetlink socket subscribed to link, IPv4 address and route groups."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)  # type: ignore[attr-defined]
        self.sock.bind((0, GROUPS))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> List[str]:
        """Every pending message's type; ["events lost"] when the kernel's buffer overflowed."""
        out: List[str] = []
        while True:
            try:
                out += message_types(self.sock.recv(65536))
            except BlockingIOError:
                return out
            except OSError:  # ENOBUFS: some were dropped, so something changed
                return [*out, "events lost"]

    def close(self) -> None:
        self.sock.close()


def open_events() -> Optional[LinkEvents]:
    """The event socket, or None where netlink is not available (the timers still run)."""
    try:
        return LinkEvents()
    except (OSError, AttributeError):
        return None
