"""keepalived.conf for the cluster's LoadBalancer IPs (pure; written by `files apply proxy`).

Why keepalived (Debian's) for LoadBalancer IPs rather than an election among the agents:
VRRP is the proven protocol for exactly this (one holder, gratuitous ARP on takeover,
priority-0 advert on clean shutdown so a stopped node hands over at once), it keeps
working when podplay's own processes are restarted or upgraded, and a short VRRPv3
advert interval (0.5 s: takeover in about 3 x 0.5 s + skew when a node dies silently) is
well inside the 3 s promise. Instances are spread: the LB IP with index k prefers the node
at position k, so several LoadBalancer services do not all land on one node. `nopreempt`
keeps an IP where it is when a preferred node returns (no second interruption). A node
whose proxy is not running gives up its IPs (track_script).
"""

from __future__ import annotations

import ipaddress
from typing import Dict, Iterable, List, Optional, Sequence

from podplay.node.contract.cluster import NodeInfo, Service

DEFAULT_ADVERT_INT = 0.5


def lb_ips(services: Iterable[Service]) -> List[str]:
    """Sorted distinct LoadBalancer IPs of the service table."""
    ips = {s.load_balancer_ip for s in services if s.type == "LoadBalancer" and s.load_balancer_ip}
    return sorted(ips, key=lambda ip: int(ipaddress.IPv4Address(ip)))


def router_ids(ips: Sequence[str]) -> Dict[str, int]:
    """A stable VRRP router id (1-255) per IP: from the address, next free on collision."""
    if len(ips) > 255:
        raise ValueError("at most 255 LoadBalancer IPs per cluster (VRRP router ids)")
    used: Dict[str, int] = {}
    for ip in ips:
        vrid = int(ipaddress.IPv4Address(ip)) % 255 + 1
        while vrid in used.values():
            vrid = vrid % 255 + 1
        used[ip] = vrid
    return used


def interface_for(address: str, ip_addr_output: str) -> Optional[str]:
    """The interface holding `address`, from `ip -o -4 addr show` output."""
    for line in ip_addr_output.splitlines():
        words = line.split()
        if "inet" in words:
            cidr = words[words.index("inet") + 1]
            if cidr.split("/")[0] == address:
                return words[1].rstrip(":").split("@")[0]
    return None


def keepalived_text(
    cluster: str,
    node: str,
    address: str,
    interface: str,
    nodes: Sequence[NodeInfo],
    ips: Sequence[str],
    advert_int: float = DEFAULT_ADVERT_INT,
) -> str:
    """keepalived.conf for one node: one VRRP instance per LB IP, unicast to the peers."""
    names = sorted(n.name for n in nodes)
    position = names.index(node)
    peers = sorted(
        (n.address for n in nodes if n.name != node), key=lambda a: int(ipaddress.IPv4Address(a))
    )
    step = max(1, 100 // max(1, len(names)))
    vrids = router_ids(ips)
    out = _global_defs(cluster, node)
    for k, ip in enumerate(ips):
        rank = (position - k) % len(names)
        out += [
            "",
            "vrrp_instance podplay_lb_%d {" % vrids[ip],
            "    state BACKUP",
            "    interface %s" % interface,
            "    virtual_router_id %d" % vrids[ip],
            "    priority %d" % max(1, 200 - rank * step),
            "    advert_int %s" % _number(advert_int),
            "    nopreempt",
            "    unicast_src_ip %s" % address,
            "    check_unicast_src",  # adverts from the peers only (see the node README)
            "    unicast_peer {",
        ]
        out += ["        %s" % p for p in peers]
        out += [
            "    }",
            "    virtual_ipaddress {",
            "        %s/32 dev %s" % (ip, interface),
            "    }",
            "    track_script {",
            "        podplay_proxy",
            "    }",
            "}",
        ]
    return "\n".join(out) + "\n"


def _global_defs(cluster: str, node: str) -> List[str]:
    return [
        "# Managed by podplay (role podplay.cluster.proxy); changes are overwritten.",
        "# One VRRP instance per LoadBalancer IP of cluster %s." % cluster,
        "global_defs {",
        "    router_id podplay_%s_%s" % (cluster, node),
        "    vrrp_version 3",
        "    vrrp_garp_master_delay 1",
        "    vrrp_garp_master_repeat 3",
        "    script_user root",
        "    enable_script_security",
        "}",
        "",
        "vrrp_script podplay_proxy {",
        '    script "/bin/systemctl is-active --quiet podplay-proxy.service"',
        "    interval 1",
        "    fall 2",
        "    rise 1",
        "}",
    ]


def _number(value: float) -> str:
    value = float(value)
    return ("%d" % value) if value == int(value) else ("%g" % value)
