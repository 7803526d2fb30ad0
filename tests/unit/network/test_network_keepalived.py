"""keepalived.conf follows the interface holding the node address (pure text edit)."""

from __future__ import annotations

from podplay.node.contract import keepalived

# as the proxy role writes it (two LoadBalancer IPs), interface found at converge time: eth0
CONF = """\
# Managed by podplay (role podplay.cluster.proxy); changes are overwritten.
global_defs {
    router_id podplay_shop_node1
    vrrp_version 3
}

vrrp_instance podplay_lb_1 {
    state BACKUP
    interface eth0
    virtual_router_id 1
    unicast_src_ip 172.30.5.11
    unicast_peer {
        172.30.5.12
    }
    virtual_ipaddress {
        172.30.5.239/32 dev eth0
    }
}

vrrp_instance podplay_lb_2 {
    state BACKUP
    interface eth0
    virtual_ipaddress {
        172.30.5.240/32 dev eth0
    }
}
"""


def test_names_of_the_interfaces_in_the_file():
    assert keepalived.named_interfaces(CONF) == ["eth0"]
    assert keepalived.named_interfaces("# interface eth9\n") == []


def test_retarget_changes_only_the_interface_names():
    moved = keepalived.retarget(CONF, "eth1")
    assert moved == CONF.replace("interface eth0", "interface eth1").replace("dev eth0", "dev eth1")
    assert keepalived.named_interfaces(moved) == ["eth1"]
    assert keepalived.retarget(moved, "eth1") == moved  # idempotent
    assert keepalived.retarget(CONF.replace("\n", "\r\n"), "eth1").count("\r\n") == CONF.count("\n")


def test_retarget_only_when_a_named_interface_is_gone_and_another_holds_the_address():
    assert keepalived.needs_retarget(CONF, "eth1", ["lo", "eth1", "podplay0"])
    assert not keepalived.needs_retarget(CONF, "eth0", ["lo", "eth0"])  # as it should be
    assert not keepalived.needs_retarget(CONF, None, ["lo"])  # address on no interface yet
    # an interface the user named that still exists is theirs, even if the address is elsewhere
    assert not keepalived.needs_retarget(CONF, "eth1", ["lo", "eth0", "eth1"])


def test_the_repairer_reads_the_names_the_proxy_role_writes():
    """Writer and reader are one module: a written file names its interface exactly where
    the repairer looks, and retargeting it changes only those names."""
    from podplay.node.contract.cluster import NodeInfo

    nodes = [NodeInfo("node1", "172.30.5.11", "10.244.1.0/24"),
             NodeInfo("node2", "172.30.5.12", "10.244.2.0/24")]  # fmt: skip
    text = keepalived.keepalived_text("shop", "node1", "172.30.5.11", "eth0", nodes,
                                      ["172.30.5.240", "172.30.5.241"])  # fmt: skip
    assert keepalived.named_interfaces(text) == ["eth0"]
    moved = keepalived.retarget(text, "eth1")
    assert moved == text.replace(" eth0", " eth1")
    assert keepalived.needs_retarget(text, "eth1", ["lo", "eth1"])
