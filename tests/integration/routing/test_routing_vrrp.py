"""A pod cannot take a LoadBalancer IP with forged VRRP adverts (issue 12, item 10).

Pods run with NET_RAW. From the network namespace of a pod (nsenter on its node), VRRPv3
adverts for the LoadBalancer IP's router id with priority 255 are sent for 3 s, ten a second,
to every node's address and to VRRP's multicast group: first with the source address of
another node (forged), then with the pod's own. The node holding the IP must hold it all the
while (a master that accepted one of them would step down), and the nodes' PODPLAY-NET
chains must have dropped them (their counters grew, so the adverts were really sent).
"""

from __future__ import annotations

import threading
import time

import pytest
from helpers import node_exec, wait_until
from routing_setup import apply, lb_holders, pod_ip, services, wait_routed, web_pod

from podplay.artifacts import images
from podplay.node.contract.keepalived import router_ids
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

WEB_PODS = {"web-1", "web-2", "web-3"}
VRRP_GROUP = "224.0.0.18"

# Runs in the pod's network namespace with the node's python3: raw IPv4 with our own header
# (IP_HDRINCL), so the source can be any address. argv: src vrid lb_ip seconds dst...
FORGER = r"""
import socket, struct, sys, time

src, vrid, lb_ip, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
dsts = sys.argv[5:]


def csum(data):
    data += b"\0" * (len(data) % 2)
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def advert(dst):
    # VRRPv3 advert: version 3 type 1, router id, priority 255, one address, 0.5 s
    body = struct.pack("!BBBBH", 0x31, vrid, 255, 1, 50) + b"\0\0" + socket.inet_aton(lb_ip)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst)
    pseudo += struct.pack("!BBH", 0, 112, len(body))
    body = body[:6] + struct.pack("!H", csum(pseudo + body)) + body[8:]
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(body), 0, 0, 255, 112, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )
    return header + body


sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sent, end = 0, time.time() + seconds
while time.time() < end:
    for dst in dsts:
        sock.sendto(advert(dst), (dst, 0))
        sent += 1
    time.sleep(0.1)
print(sent)
"""


@pytest.fixture(scope="module")
def lb(cluster: Cluster, busybox_image):  # type: ignore[no-untyped-def]
    """The routing tests' web pods and services (a LoadBalancer IP among them)."""
    lb_ip = cluster.lb_pool[0]
    pods = {n.name: [web_pod(cluster, n.index, busybox_image)] for n in cluster.nodes}
    imgs = [images.ensure_pause_image(), busybox_image]
    apply(cluster, pods, services(cluster, lb_ip), imgs)
    wait_routed(cluster, WEB_PODS)
    yield lb_ip
    apply(cluster, {}, [], imgs)


def vrrp_dropped(cluster: Cluster, node: str) -> int:
    """Packets the node's PODPLAY-NET chains dropped as VRRP so far."""
    out = node_exec(
        cluster, node, "iptables -w -t filter -L PODPLAY-NET-INPUT -v -x -n; "
        "iptables -w -t filter -L PODPLAY-NET-FORWARD -v -x -n",
    ).stdout  # fmt: skip
    return sum(
        int(line.split()[0])
        for line in out.splitlines()
        if " DROP " in f" {line} " and ("vrrp" in line or " 112 " in f" {line} ")
    )


def forge(cluster: Cluster, node: str, pod: str, src: str, vrid: int, lb_ip: str) -> int:
    """Send forged adverts for 3 s from `pod`'s network namespace on `node`; how many."""
    pid = (
        "docker inspect -f '{{.State.Pid}}' "
        f"$(docker ps -q --filter label=io.podplay.pod={pod} | head -1)"
    )
    dsts = " ".join([*(n.address for n in cluster.nodes), VRRP_GROUP])
    done = node_exec(
        cluster, node, f'nsenter -t "$({pid})" -n python3 - {src} {vrid} {lb_ip} 3 {dsts}',
        input=FORGER, timeout=60,
    )  # fmt: skip
    assert done.ok, f"forging from {pod} on {node}: {done.stdout}{done.stderr}"
    return int(done.stdout.strip().splitlines()[-1])


def test_forged_adverts_from_pods_never_move_the_load_balancer_ip(cluster: Cluster, lb) -> None:
    lb_ip = lb
    vrid = router_ids([lb_ip])[lb_ip]
    holders = wait_until(lambda: lb_holders(cluster, lb_ip), timeout=15, what="an LB IP holder")
    assert len(holders) == 1, holders
    holder = cluster.node(holders[0])
    other = next(n for n in cluster.nodes if n.name != holder.name)
    nodes = cluster.nodes
    dropped_before = {n.name: vrrp_dropped(cluster, n.name) for n in nodes}

    seen: list[list[str]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(lb_holders(cluster, lb_ip))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        attacks = [  # (node the pod runs on, forged source)
            (holder, other.address),  # into the holder's INPUT, as if from a peer
            (other, holder.address),  # routed to the holder from another node's pod
            (holder, pod_ip(cluster, holder.index)),  # the pod's own address
        ]
        sent = sum(
            forge(cluster, node.name, f"web-{node.index}", src, vrid, lb_ip)
            for node, src in attacks
        )
        time.sleep(2.0)  # a master that stepped down would be seen by now (3 x 0.5 s + skew)
    finally:
        stop.set()
        watcher.join(5)
    assert sent > 0
    moved = [h for h in seen if h != [holder.name]]
    assert not moved, f"the LB IP left {holder.name} during forged adverts: {moved[:5]}"
    dropped = {n.name: vrrp_dropped(cluster, n.name) - dropped_before[n.name] for n in nodes}
    print(f"\nforged VRRP adverts: {sent} sent, dropped per node {dropped}")
    assert dropped[holder.name] > 0 and dropped[other.name] > 0, dropped
