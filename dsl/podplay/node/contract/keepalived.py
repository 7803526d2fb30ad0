"""keepalived.conf, `/etc/keepalived/keepalived.conf` (`defaults.KEEPALIVED_CONF`): the
cluster's LoadBalancer IPs. Written here, as text, by `files apply proxy` (the proxy role);
its interface names are read and rewritten here too, by the network repairer. Pure.

Why keepalived (Debian's) for LoadBalancer IPs rather than an election among the agents:
VRRP is the proven protocol for exactly this (one holder, gratuitous ARP on takeover,
priority-0 advert on clean shutdown so a stopped node hands over at once), it keeps
working when podplay's own processes are restarted or upgraded, and a short VRRPv3
advert interval (0.5 s: takeover in about 3 x 0.5 s + skew when a node dies silently) is
well inside the 3 s promise. Instances are spread: the LB IP with index k prefers the node
at position k, so several LoadBalancer services do not all land on one node. `nopreempt`
keeps an IP where it is when a preferred node returns (no second interruption). A node
whose proxy is not running gives up its IPs (track_script).

The file names the interface that held the node address when it was written (`interface
eth0`, `<ip>/32 dev eth0`). Interface names are not stable: a node container disconnected
from its network and connected again gets its address back on `eth1`, and keepalived, still
bound to `eth0`, holds nothing. The repairer owns exactly those names in the file: when an
interface the file names no longer exists and another one holds the node address, it
rewrites the names (`retarget`), leaving every other byte alone, and reloads keepalived.
Why rewrite rather than give the uplink a stable name: renaming an interface needs it down
(an outage of its own), the engine that made it finds it by its name when disconnecting, and
on a real host the uplink's name belongs to the host's own network setup. An interface
named by the user (`podplay_lb.interface`) that still exists is never touched.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Dict, Iterable, List, Optional, Sequence

from podplay.node.contract.cluster import NodeInfo, Service

DEFAULT_ADVERT_INT = 0.5
# The lines that name an interface (what the repairer rewrites).
_INTERFACE = re.compile(r"^(\s*interface\s+)(\S+)(.*)$")
_DEV = re.compile(r"^(\s*\S+\s.*?\bdev\s+)(\S+)(.*)$")


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


# -- the interface names in a written file (the repairer) ------------------------------


def _match(line: str) -> Optional["re.Match[str]"]:
    if line.lstrip().startswith(("#", "!")):
        return None
    return _INTERFACE.match(line) or _DEV.match(line)


def named_interfaces(text: str) -> List[str]:
    """Interfaces the file names (`interface X` lines, `dev X` of addresses), in order, once."""
    seen: List[str] = []
    for line in text.splitlines():
        m = _match(line)
        if m and m.group(2) not in seen:
            seen.append(m.group(2))
    return seen


def retarget(text: str, interface: str) -> str:
    """The same file with every named interface replaced by `interface`."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = _match(body)
        if m:
            line = m.group(1) + interface + m.group(3) + line[len(body) :]
        out.append(line)
    return "".join(out)


def needs_retarget(text: str, uplink: Optional[str], links: Iterable[str]) -> bool:
    """True when the file names an interface that is gone while `uplink` holds the address."""
    if not uplink:
        return False
    present = set(links)
    named = named_interfaces(text)
    return any(name not in present for name in named) and named != [uplink]
