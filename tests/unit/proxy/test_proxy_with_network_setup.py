"""The network setup's chains and the proxy's rules together in one fake kernel: what a pod
can reach on the nodes (issue 12 item 6). The node's own services (sshd, the agent API, the
store) are refused to pods on every path; services, cluster DNS and other pods still answer.
"""

from __future__ import annotations

import pytest
from fake_iptables import FakeIptables
from packet_tracer import Packet, Tracer, endpoints, only
from proxy_cases import all_ready, local, state

from podplay.node.contract.network import NetworkConfig
from podplay.node.network.plan import plan_iptables
from podplay.node.proxy.rules import render
from podplay.node.proxy.ruleset import parse_save

NODES = [
    {"name": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24"},
    {"name": "node2", "address": "172.30.5.12", "pod_cidr": "10.244.2.0/24"},
    {"name": "node3", "address": "172.30.5.13", "pod_cidr": "10.244.3.0/24"},
]
# What Docker alone leaves on a node before podplay's setup runs.
DOCKER_SAVE = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A DOCKER-USER -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
"""


def node_kernel(name: str = "node1") -> FakeIptables:
    """A node after `network apply`, then the proxy's first full sync."""
    me = next(n for n in NODES if n["name"] == name)
    cfg = NetworkConfig.from_json(
        {"node": name, "address": me["address"], "pod_cidr": me["pod_cidr"],
         "cluster_pod_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/16", "nodes": NODES}
    )  # fmt: skip
    ipt = FakeIptables()
    ipt.restore(DOCKER_SAVE, noflush=False)
    text, _ = plan_iptables(cfg, ipt.save())
    assert text is not None
    ipt.restore(text)
    assert plan_iptables(cfg, ipt.save()) == (None, [])  # converged: a second apply is a no-op
    st = state()
    ipt.restore(render(st, all_ready(st), local(name), parse_save(ipt.save())))
    return ipt


def tracer(name: str = "node1") -> Tracer:
    node = local(name)
    return Tracer(node_kernel(name), {node.address, node.gateway, "127.0.0.1"}, node.pod_cidr)


@pytest.mark.parametrize("port", [22, 2379, 2380, 10250])
@pytest.mark.parametrize("dst", ["172.30.5.11", "10.244.1.1", "172.30.5.12", "172.30.5.13"])
def test_a_pod_is_refused_the_nodes_own_ports(dst: str, port: int):
    """This node's addresses (INPUT) and the other nodes' (FORWARD, before masquerade)."""
    o = only(tracer().trace(Packet("10.244.1.50", dst, "tcp", port, "pod")))
    assert o.verdict == "REJECT", (dst, port)


def test_a_pod_from_another_node_is_refused_here_too():
    """Routed from node2 unmasqueraded (pod CIDR to pod CIDR): node1's INPUT refuses it."""
    o = only(tracer().trace(Packet("10.244.2.50", "10.244.1.1", "tcp", 10250, "outside")))
    assert (o.verdict, o.local) == ("REJECT", True)


def test_nodes_and_the_outside_still_reach_the_nodes_ports():
    t = tracer()
    for src, origin in (("172.30.5.1", "outside"), ("172.30.5.12", "outside")):
        for port in (22, 10250, 2379):
            o = only(t.trace(Packet(src, "172.30.5.11", "tcp", port, origin)))
            assert (o.verdict, o.local) == ("ACCEPT", True), (src, port)
    o = only(t.trace(Packet("172.30.5.11", "172.30.5.12", "tcp", 10250, "node")))
    assert o.verdict == "ACCEPT"  # this node's proxy watching another node's agent


def test_pods_still_reach_services_dns_other_pods_and_node_ports():
    t = tracer()
    for proto in ("udp", "tcp"):
        o = only(t.trace(Packet("10.244.1.50", "10.96.0.10", proto, 53, "pod")))
        assert (o.verdict, o.dest) == ("ACCEPT", "10.244.1.1:53")
        o = only(t.trace(Packet("10.244.1.50", "10.244.1.1", proto, 53, "pod")))
        assert (o.verdict, o.local) == ("ACCEPT", True)
    assert len(endpoints(t.trace(Packet("10.244.1.50", "10.96.0.20", "tcp", 80, "pod")))) == 3
    o = only(t.trace(Packet("10.244.1.50", "10.244.2.5", "tcp", 8080, "pod")))
    assert (o.verdict, o.masquerade) == ("ACCEPT", False)
    o = only(t.trace(Packet("10.244.1.50", "10.244.2.5", "tcp", 22, "pod")))
    assert o.verdict == "ACCEPT"  # another pod's port 22 is that pod's business
    o = only(t.trace(Packet("10.244.1.50", "172.30.5.12", "tcp", 30080, "pod")))
    assert o.verdict == "ACCEPT"  # a node port of another node
    o = only(t.trace(Packet("10.244.1.50", "172.30.5.11", "tcp", 30080, "pod")))
    assert (o.verdict, o.dest) == ("ACCEPT", "10.244.2.7:8080")  # and of this one


def test_an_unused_cluster_ip_is_refused_with_the_network_setup_in_place():
    """PODPLAY-NET-FORWARD accepts pod traffic; the proxy's service CIDR reject comes first."""
    for origin, src in (("pod", "10.244.1.50"), ("node", "172.30.5.11")):
        o = only(tracer().trace(Packet(src, "10.96.77.7", "tcp", 80, origin)))
        assert o.verdict == "REJECT", origin


VRRP_GROUP = "224.0.0.18"  # VRRP's multicast group: delivered locally like a node address


def vrrp_tracer(name: str = "node1") -> Tracer:
    node = local(name)
    locals_ = {node.address, node.gateway, "127.0.0.1", VRRP_GROUP}
    return Tracer(node_kernel(name), locals_, node.pod_cidr)


@pytest.mark.parametrize("peer", ["172.30.5.12", "172.30.5.13"])
def test_keepalived_hears_the_other_nodes_adverts(peer: str):
    for dst in ("172.30.5.11", VRRP_GROUP):
        o = only(vrrp_tracer().trace(Packet(peer, dst, "vrrp", 0, "outside")))
        assert (o.verdict, o.local) == ("ACCEPT", True), dst


@pytest.mark.parametrize("dst", ["172.30.5.11", "10.244.1.1", VRRP_GROUP])
@pytest.mark.parametrize("src", ["10.244.1.50", "172.30.5.12", "172.30.5.11"])
def test_a_pod_cannot_advertise_to_its_nodes_keepalived_even_with_a_forged_source(
    src: str, dst: str
):
    """issue 12, item 10: pods run with NET_RAW; whatever source they write, an advert
    coming in on the pod bridge is dropped."""
    o = only(vrrp_tracer().trace(Packet(src, dst, "vrrp", 0, "pod")))
    assert o.verdict == "DROP", (src, dst)


@pytest.mark.parametrize("dst", ["172.30.5.12", "172.30.5.13"])
def test_a_pods_advert_to_another_node_is_not_routed_there(dst: str):
    """Forwarded, it would be masqueraded to this node's address and pass as a peer's."""
    o = only(vrrp_tracer().trace(Packet("10.244.1.50", dst, "vrrp", 0, "pod")))
    assert (o.verdict, o.local) == ("DROP", False)


@pytest.mark.parametrize("src", ["172.30.5.1", "10.244.2.50", "192.0.2.7"])
def test_an_advert_from_anything_but_a_node_is_dropped(src: str):
    """The host network's gateway, a pod of another node routed here, anyone on the LAN."""
    for dst in ("172.30.5.11", VRRP_GROUP):
        o = only(vrrp_tracer().trace(Packet(src, dst, "vrrp", 0, "outside")))
        assert o.verdict == "DROP", (src, dst)
