# Copyright podplay developers. Apache-2.0.
"""What the `proxy` role writes on a node, computed as plain text (pure; unit-tested).

- `/etc/podplay/cluster.json`: the cluster state the proxy routes and serves DNS from.
- `/etc/systemd/system/podplay-proxy.service`: the proxy unit; it names the node bundle's
  sha256 so a new bundle changes the unit and the role restarts the proxy.
- `/etc/keepalived/keepalived.conf`: one unicast VRRP instance per LoadBalancer IP.

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

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

CLUSTER_JSON = "/etc/podplay/cluster.json"
UNIT_PATH = "/etc/systemd/system/podplay-proxy.service"
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"
DEFAULT_ADVERT_INT = 0.5


def cluster_state(cluster, services, nodes, pod_cidr, service_cidr, dns_ip, cluster_domain,
                  node_port_range):  # fmt: skip
    """The cluster.json document (the node README's ClusterState)."""
    return {
        "apiVersion": "podplay/v1",
        "kind": "ClusterState",
        "cluster": cluster,
        "pod_cidr": pod_cidr,
        "service_cidr": service_cidr,
        "dns_ip": dns_ip,
        "cluster_domain": cluster_domain,
        "node_port_range": list(node_port_range),
        "nodes": [
            {
                "name": n["name"],
                "address": n["address"],
                "pod_cidr": n["pod_cidr"],
                "api_port": int(n.get("api_port") or 10250),
            }
            for n in nodes
        ],
        "services": list(services),
    }


def cluster_json_text(state):
    """Canonical text: same state, same bytes (so an unchanged state is `changed=false`)."""
    return json.dumps(state, indent=1, sort_keys=True) + "\n"


def unit_text(bundle_path, bundle_sha256, agent_config="/etc/podplay/agent.json"):
    return "\n".join(
        [
            "# Managed by podplay (role podplay.cluster.proxy).",
            "[Unit]",
            "Description=podplay service proxy (iptables) and cluster DNS",
            "Documentation=file://%s" % CLUSTER_JSON,
            "Wants=network-online.target",
            "After=network-online.target docker.service podplay-network.service",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            "# the bundle this unit runs; a new bundle changes the unit and restarts the proxy",
            "Environment=PODPLAY_BUNDLE_SHA256=%s" % bundle_sha256,
            "ExecStart=/usr/bin/python3 %s proxy --config %s" % (bundle_path, agent_config),
            "Restart=always",
            "RestartSec=1",
            "# rules stay in the kernel when the proxy stops: routing keeps working (fail static)",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def lb_ips(services):
    """Sorted distinct LoadBalancer IPs of the service table."""
    ips = set()
    for s in services:
        if s.get("type") == "LoadBalancer" and s.get("load_balancer_ip"):
            ips.add(str(ipaddress.IPv4Address(s["load_balancer_ip"])))
    return sorted(ips, key=lambda ip: int(ipaddress.IPv4Address(ip)))


def router_ids(ips):
    """A stable VRRP router id (1-255) per IP: from the address, next free on collision."""
    if len(ips) > 255:
        raise ValueError("at most 255 LoadBalancer IPs per cluster (VRRP router ids)")
    used = {}
    for ip in ips:
        vrid = int(ipaddress.IPv4Address(ip)) % 255 + 1
        while vrid in used.values():
            vrid = vrid % 255 + 1
        used[ip] = vrid
    return used


def interface_for(address, ip_addr_output):
    """The interface holding `address`, from `ip -o -4 addr show` output."""
    for line in ip_addr_output.splitlines():
        words = line.split()
        if "inet" in words:
            cidr = words[words.index("inet") + 1]
            if cidr.split("/")[0] == address:
                return words[1].rstrip(":").split("@")[0]
    return None


def keepalived_text(cluster, node, address, interface, nodes, ips, advert_int=DEFAULT_ADVERT_INT):
    """keepalived.conf for one node: one VRRP instance per LB IP, unicast to the peers."""
    names = sorted(n["name"] for n in nodes)
    position = names.index(node)
    peers = sorted(
        (n["address"] for n in nodes if n["name"] != node),
        key=lambda a: int(ipaddress.IPv4Address(a)),
    )
    step = max(1, 100 // max(1, len(names)))
    vrids = router_ids(ips)
    out = [
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


def _number(value):
    value = float(value)
    return ("%d" % value) if value == int(value) else ("%g" % value)
