"""A fake node for the repairer: routes, links, iptables (the proxy tests' fake), files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))
from fake_iptables import FakeIptables

from podplay.node.contract.network import NetworkConfig
from podplay.node.network.host import HostError

DOC = {
    "node": "node1",
    "address": "172.30.5.11",
    "pod_cidr": "10.244.1.0/24",
    "cluster_pod_cidr": "10.244.0.0/16",
    "service_cidr": "10.96.0.0/16",
    "nodes": [
        {"name": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24"},
        {"name": "node2", "address": "172.30.5.12", "pod_cidr": "10.244.2.0/24"},
        {"name": "node3", "address": "172.30.5.13", "pod_cidr": "10.244.3.0/24"},
    ],
}
CFG = NetworkConfig.from_json(DOC)
PEER_ROUTES = [
    {"dst": "10.244.2.0/24", "gateway": "172.30.5.12", "dev": "eth0"},
    {"dst": "10.244.3.0/24", "gateway": "172.30.5.13", "dev": "eth0"},
]
DNS_TCP, DNS_UDP = 36415, 51347
ENGINE_DNS = {
    "DOCKER_OUTPUT": [
        f"-d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:{DNS_TCP}",
        f"-d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:{DNS_UDP}",
    ],
    "DOCKER_POSTROUTING": [
        f"-s 127.0.0.11/32 -p tcp -m tcp --sport {DNS_TCP} -j SNAT --to-source :53",
        f"-s 127.0.0.11/32 -p udp -m udp --sport {DNS_UDP} -j SNAT --to-source :53",
    ],
}


def link(name: str, index: int, *addresses: str, mac: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "ifindex": index,
        "ifname": name,
        "addr_info": [{"family": "inet", "local": a, "prefixlen": 24} for a in addresses],
    }
    if mac:
        out["address"] = mac
    return out


class FakeNode:
    """What NodeOps reads and changes, in memory; records what was done."""

    def __init__(self) -> None:
        self.ipt = FakeIptables()
        self.link_list = [
            link("lo", 1, "127.0.0.1"),
            link("eth0", 5, CFG.address, mac="02:42:ac:1e:05:0b"),
        ]
        self.route_list: list[dict] = [{"dst": "default", "gateway": "172.30.5.1"}]
        self.files: dict[str, str] = {}
        self.active = {"keepalived.service": True}
        self.done: list[tuple] = []
        self.unreachable = False  # the kernel refuses routes (no way to the peers)
        nat = self.ipt.tables["nat"]
        for chain, rules in ENGINE_DNS.items():
            nat[chain] = list(rules)
        nat["OUTPUT"].append("-d 127.0.0.11/32 -j DOCKER_OUTPUT")
        nat["POSTROUTING"].append("-d 127.0.0.11/32 -j DOCKER_POSTROUTING")

    # reads
    def routes(self) -> list[dict]:
        return list(self.route_list)

    def links(self) -> list[dict]:
        return list(self.link_list)

    def iptables_save(self) -> str:
        return self.ipt.save()

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def service_active(self, unit: str) -> bool:
        return self.active.get(unit, False)

    def canary_ok(self) -> bool:
        return all(
            self.ipt.tables[t].get("PODPLAY-NET-CANARY") == ["-j RETURN"] for t in ("filter", "nat")
        )

    # changes
    def replace_route(self, dst: str, via: str) -> None:
        if self.unreachable:
            raise HostError(f"ip route replace {dst} via {via} failed: Nexthop has invalid gateway")
        self.route_list = [r for r in self.route_list if r["dst"] != dst]
        self.route_list.append({"dst": dst, "gateway": via, "dev": "eth0"})
        self.done.append(("route", dst, via))

    def delete_route(self, dst: str) -> None:
        self.route_list = [r for r in self.route_list if r["dst"] != dst]
        self.done.append(("route-del", dst))

    def iptables_restore(self, text: str) -> None:
        self.ipt.restore(text)
        self.done.append(("restore", text))

    def write_text(self, path: str, text: str, mode: int = 0o644) -> None:
        self.files[path] = text
        self.done.append(("write", path))

    def reload_service(self, unit: str) -> None:
        self.done.append(("reload", unit))

    def announce(self, interface: str, mac: str, address: str) -> None:
        self.done.append(("garp", interface, mac, address))

    # faults
    def flush(self) -> None:
        """`iptables -t nat -F; iptables -F`: every rule gone, the chains stay."""
        for table in ("filter", "nat"):
            for chain in self.ipt.tables[table]:
                self.ipt.tables[table][chain] = []

    def partition(self) -> None:
        """The uplink is gone: its address and every route through it with it."""
        self.link_list = [lk for lk in self.link_list if lk["ifname"] != "eth0"]
        self.route_list = [r for r in self.route_list if r.get("dev") != "eth0"]

    def reconnect(self, name: str = "eth1", index: int = 9, mac: str = "02:42:ac:1e:05:0b") -> None:
        self.link_list.append(link(name, index, CFG.address, mac=mac))
        self.route_list.append({"dst": "default", "gateway": "172.30.5.1", "dev": name})
