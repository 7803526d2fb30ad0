"""Hairpin mode on the pod bridge's ports, so a pod can reach itself through its service.

With bridge netfilter on, a pod's packet to a ClusterIP is DNATed while it is being bridged;
when the chosen endpoint is the sender itself, the bridge must send the frame back out of
the port it came in on, which a Linux bridge refuses unless that port is in hairpin mode
(kubelet's "hairpin-veth" does the same). Together with the hairpin MASQUERADE rule (see
rules.py) the pod then gets its own reply from the gateway address.

Ports are read from sysfs (read-only in node containers, cheap to list every tick) and
switched with netlink through `ip link` (works where sysfs is read-only).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from typing import List

from podplay.node.contract import defaults
from podplay.node.util.uplink import interface_holding

log = logging.getLogger("podplay.proxy.hairpin")

SYS_NET = "/sys/class/net"


def ports_without_hairpin(bridge: str, sys_net: str = SYS_NET) -> List[str]:
    """Ports of `bridge` whose hairpin mode is off (empty if the bridge does not exist)."""
    brif = os.path.join(sys_net, bridge, "brif")
    try:
        ports = sorted(os.listdir(brif))
    except OSError:
        return []
    out = []
    for port in ports:
        try:
            with open(os.path.join(brif, port, "hairpin_mode")) as f:
                if f.read().strip() != "1":
                    out.append(port)
        except OSError:
            continue  # the port went away meanwhile
    return out


def enable(ports: List[str]) -> None:
    for port in ports:
        res = subprocess.run(
            ["ip", "link", "set", "dev", port, "type", "bridge_slave", "hairpin", "on"],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            log.debug("hairpin on %s: %s", port, res.stderr.strip())


def bridge_of(address: str, sys_net: str = SYS_NET) -> str:
    """The interface holding `address` (the pod bridge holds the gateway .1), else the
    pod bridge's default name."""
    return interface_holding(address) or defaults.BRIDGE_NAME


class Hairpin:
    """Called every loop turn: switch on hairpin mode for new ports of the pod bridge."""

    def __init__(self, gateway: str, sys_net: str = SYS_NET) -> None:
        self.gateway = gateway
        self.sys_net = sys_net
        self.bridge = ""
        self._looked_up = float("-inf")

    def __call__(self) -> None:
        missing = not self.bridge or not os.path.isdir(os.path.join(self.sys_net, self.bridge))
        if missing and time.monotonic() - self._looked_up > 10:  # no bridge yet: ask rarely
            self.bridge = bridge_of(self.gateway, self.sys_net)
            self._looked_up = time.monotonic()
        ports = ports_without_hairpin(self.bridge, self.sys_net)
        if ports:
            enable(ports)
            log.info("hairpin mode on for %s", ", ".join(ports))
