"""The uplink: the interface that holds an address (the node's, or the pod bridge's gateway),
found one way everywhere: by the address, in `ip -j addr show`.

Interface names are not stable (a node container disconnected from its network and
connected again gets its address back on `eth1`), so nothing remembers a name: the repairer
(network/repair.py), the proxy role's keepalived.conf (files/proxy.py) and the proxy's
hairpin switch (proxy/hairpin.py) each ask which interface holds the address now. A name as
the kernel prints it for a veth (`eth0@if24`) is the name before the `@`.
"""

from __future__ import annotations

import json
import subprocess
from typing import List, NamedTuple, Optional


class Uplink(NamedTuple):
    """The interface that holds an address: its name, kernel index and MAC."""

    name: str
    index: int
    mac: str = ""


def link_name(ifname: object) -> str:
    """`eth0@if24` -> `eth0`."""
    return str(ifname or "").split("@")[0]


def find_uplink(address: str, links: List[dict]) -> Optional[Uplink]:
    """Which interface holds `address`, from `ip -j addr show` output (pure)."""
    for link in links:
        for info in link.get("addr_info") or []:
            if info.get("family") == "inet" and info.get("local") == address:
                mac = str(link.get("address") or "")
                return Uplink(link_name(link.get("ifname")), int(link["ifindex"]), mac)
    return None


def link_names(links: List[dict]) -> List[str]:
    return [link_name(link.get("ifname")) for link in links]


def read_links() -> List[dict]:
    """`ip -j addr show` now; [] when it cannot be run or read."""
    try:
        done = subprocess.run(
            ["ip", "-j", "addr", "show"], capture_output=True, text=True, check=False
        )
        links = json.loads(done.stdout or "[]") if done.returncode == 0 else []
    except (OSError, ValueError):
        return []
    return links if isinstance(links, list) else []


def interface_holding(address: str) -> Optional[str]:
    """The name of the interface that holds `address` now, None when none does."""
    uplink = find_uplink(address, read_links())
    return uplink.name if uplink else None
