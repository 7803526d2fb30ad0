"""A pod's network interface, made by the agent as a CNI bridge plugin makes it.

Why not the engine's networking: measured on a node, Docker's (libnetwork's) endpoint on the
pod network cost about as much CPU as the rest of a pod start together. For every sandbox it
runs the dockerd binary twice more (`set-ipv6`, the `libnetwork-setkey` hook), sets up its
embedded DNS with iptables inside the pod, and allocates the address. A burst of 50 pods
could not finish in 6 s on 2 cores with it (bench/bench_agent.py).

So the sandbox is created with networking disabled: runc gives it an empty network namespace
of its own. The agent then adds a veth pair, as the kubelet's bridge plugin does: `eth0` in
the pod with the pod IP, a MAC derived from that IP (as Docker's), a default route via the
pod bridge; the other end is a port of the pod bridge. The pair lives as long as the
namespace, so removing the sandbox removes both ends. The bridge itself (the `podplay`
Docker network, made by the network role) is unchanged; the proxy's hairpin switch covers
these ports as it covered Docker's.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from typing import Any, Callable, List, NamedTuple, Optional

IP = "ip"
NETNS_DIR = "/run/netns"
SYS_NET = "/sys/class/net"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"
DEFAULT_MTU = 1500


class PodNetworkError(Exception):
    """Setting up a pod's interface failed (the message says which step)."""


class PodBridge(NamedTuple):
    """Where pods plug in: the node's pod bridge, its address and the pod network's size."""

    name: str
    gateway: str
    prefix: int
    mtu: int = DEFAULT_MTU

    @classmethod
    def from_network(cls, net: Any) -> PodBridge:
        """From the engine's record of the pod network (`docker network inspect`)."""
        options = net.get("Options") or {}
        configs = (net.get("IPAM") or {}).get("Config") or []
        if not configs or not configs[0].get("Subnet") or not configs[0].get("Gateway"):
            raise PodNetworkError("network %s has no subnet and gateway" % net.get("Name"))
        subnet = ipaddress.ip_network(configs[0]["Subnet"], strict=False)
        name = options.get(BRIDGE_NAME_OPTION) or "br-" + str(net.get("Id", ""))[:12]
        mtu = int(options.get(MTU_OPTION) or DEFAULT_MTU)
        return cls(name, configs[0]["Gateway"], subnet.prefixlen, mtu)


def host_end(sandbox_id: str) -> str:
    """The node's end of a pod's veth pair (15 characters at most, as Linux allows)."""
    return "pp" + sandbox_id[:12]


def plugged(sandbox_id: str, sys_net: Optional[str] = None) -> bool:
    """Whether the sandbox's pair exists (its node end is an interface of the node)."""
    return os.path.exists(os.path.join(sys_net or SYS_NET, host_end(sandbox_id)))


def mac_address(ip: str) -> str:
    """02:42 and the IPv4 address, as Docker derives it: a pod that reuses an address has the
    same MAC, so no neighbour keeps a stale entry for it."""
    return "02:42:" + ":".join("%02x" % b for b in ipaddress.IPv4Address(ip).packed)


def outside_commands(bridge: PodBridge, sandbox_id: str, pid: int, ip: str) -> List[str]:
    """`ip -batch` lines run on the node: the pair, one end moved into the pod, the other
    plugged into the bridge."""
    veth = host_end(sandbox_id)
    return [
        "link add %s mtu %d type veth peer name eth0 mtu %d address %s netns %d"
        % (veth, bridge.mtu, bridge.mtu, mac_address(ip), pid),
        "link set %s master %s up" % (veth, bridge.name),
    ]


def inside_commands(bridge: PodBridge, ip: str) -> List[str]:
    """`ip -batch` lines run in the pod's namespace: its address and its way out."""
    return [
        "addr add %s/%d dev eth0" % (ip, bridge.prefix),
        "link set lo up",
        "link set eth0 up",
        "route add default via %s dev eth0" % bridge.gateway,
    ]


def run_ip(args: List[str], batch: List[str]) -> None:
    """Run `ip [args] -batch -` with these lines; raise with ip's own message on failure."""
    done = subprocess.run(
        [IP, *args, "-batch", "-"],
        input="\n".join(batch) + "\n",
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise PodNetworkError(message[-1] if message else "ip exited %d" % done.returncode)


class PodNetwork:
    """Plugs sandboxes into the pod bridge."""

    def __init__(
        self,
        bridge: Callable[[], PodBridge],
        run: Callable[[List[str], List[str]], None] = run_ip,
        netns_dir: str = NETNS_DIR,
    ) -> None:
        self._bridge_lookup = bridge
        self._bridge: Optional[PodBridge] = None
        self._run = run
        self._netns_dir = netns_dir

    @property
    def bridge(self) -> PodBridge:
        """Looked up once: the network role keeps the bridge's name and subnet."""
        if self._bridge is None:
            self._bridge = self._bridge_lookup()
        return self._bridge

    def attach(self, sandbox_id: str, pid: int, ip: str) -> None:
        """Give the running sandbox `pid` its interface with `ip`."""
        if pid <= 0:
            raise PodNetworkError("sandbox %s is not running" % sandbox_id[:12])
        bridge = self.bridge
        self._run([], outside_commands(bridge, sandbox_id, pid, ip))
        # `ip -n` names a namespace by a file under /run/netns: a link to the sandbox's,
        # there only while the pod's side is configured
        name = "podplay-" + sandbox_id[:12]
        link = os.path.join(self._netns_dir, name)
        os.makedirs(self._netns_dir, exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink("/proc/%d/ns/net" % pid, link)
        try:
            self._run(["-n", name], inside_commands(bridge, ip))
        finally:
            os.unlink(link)
