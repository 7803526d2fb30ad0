"""What the repairer decides and does, given what it finds on the node (fake node)."""

from __future__ import annotations

import json

import pytest
from network_fakes import CFG, DNS_UDP, FakeNode, link

from podplay.node.contract.defaults import KEEPALIVED_CONF
from podplay.node.network import enginedns
from podplay.node.network.host import HostError
from podplay.node.network.repair import Observed, decide
from podplay.node.network.repairer import Repairer
from podplay.node.util.uplink import Uplink, find_uplink

CONF = (
    "vrrp_instance podplay_lb_1 {\n    interface eth0\n    virtual_ipaddress {\n"
    "        172.30.5.239/32 dev eth0\n    }\n}\n"
)


@pytest.fixture
def node():
    return FakeNode()


@pytest.fixture
def repairer(node):
    r = Repairer(CFG, ops=node, record_path="/run/podplay/engine-dns.json")
    r.repair(with_rules=True)  # the start: converged
    node.done.clear()
    return r


def test_the_uplink_is_found_by_the_node_address_not_by_name():
    links = [link("lo", 1, "127.0.0.1"), link("eth1@if12", 9, "172.30.5.11")]
    assert find_uplink("172.30.5.11", links) == Uplink("eth1", 9)
    assert find_uplink("172.30.5.99", links) is None


def test_first_pass_converges_then_a_second_changes_nothing(node):
    r = Repairer(CFG, ops=node, record_path="rec.json")
    first = r.repair(with_rules=True)
    assert "route 10.244.2.0/24 via 172.30.5.12" in first.changes
    assert "iptables filter chain PODPLAY-NET-CANARY written" in first.changes
    assert node.canary_ok()
    assert r.repair(with_rules=True).changes == []
    assert r.repair(with_rules=True, check=True).changes == []


def test_a_flush_is_repaired_in_one_restore_with_the_engines_dns_rules(node, repairer):
    node.flush()
    assert not node.canary_ok()
    repairs = repairer.repair(with_rules=True)
    assert [d[0] for d in node.done] == ["restore"]  # one iptables-restore, nothing else
    assert node.canary_ok()
    nat = node.ipt.tables["nat"]
    assert f"--to-destination 127.0.0.11:{DNS_UDP}" in " ".join(nat["DOCKER_OUTPUT"])
    assert "-d 127.0.0.11/32 -j DOCKER_OUTPUT" in nat["OUTPUT"]
    assert "-d 127.0.0.11/32 -j DOCKER_POSTROUTING" in nat["POSTROUTING"]
    assert "-j PODPLAY-NET-FORWARD" in node.ipt.tables["filter"]["FORWARD"]
    assert any("DOCKER_OUTPUT (Docker's embedded DNS) restored" in c for c in repairs.changes)
    assert node.ipt.dangling_jumps() == []
    assert repairer.repair(with_rules=True).changes == []


def test_the_engines_rules_survive_a_restart_of_the_repairer(node, repairer):
    kept = json.loads(node.files[repairer.record_path])
    assert kept["jumps"] == [
        "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT",
        "-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING",
    ]
    node.flush()
    again = Repairer(CFG, ops=node, record_path=repairer.record_path)  # started after the flush
    again.repair(with_rules=True)
    assert node.ipt.tables["nat"]["DOCKER_OUTPUT"] == repairer_rules(repairer)


def repairer_rules(r):
    return [rule.split(" ", 2)[2] for rule in r.engine_dns.chains["DOCKER_OUTPUT"]]


def test_flushed_before_ever_seen_the_rules_come_from_the_resolver_sockets(node):
    node.flush()
    node.files["/proc/net/udp"] = f"h\n 0: 0B00007F:{DNS_UDP:04X} 00000000:0000 07\n"
    node.files["/proc/net/tcp"] = "h\n 0: 0B00007F:8DFF 00000000:0000 0A\n"
    r = Repairer(CFG, ops=node, record_path="none")
    r.repair(with_rules=True)
    assert f"127.0.0.11:{DNS_UDP}" in " ".join(node.ipt.tables["nat"]["DOCKER_OUTPUT"])
    assert enginedns.extract(node.ipt.save()) == r.engine_dns


def test_a_links_pass_reads_no_rules_and_repairs_a_deleted_route(node, repairer):
    node.route_list = [r for r in node.route_list if r["dst"] != "10.244.3.0/24"]
    node.flush()
    repairs = repairer.repair(with_rules=False)
    assert repairs.changes == ["route 10.244.3.0/24 via 172.30.5.13"]
    assert not node.canary_ok()  # rules are the canary's and the rules pass's business


def test_partition_then_reconnect_under_another_name(node, repairer):
    node.files[KEEPALIVED_CONF] = CONF
    repairer.repair(with_rules=False)
    node.partition()
    during = repairer.repair(with_rules=True)
    assert during.waiting == "no interface holds the node address 172.30.5.11: routes wait for it"
    assert node.done == []  # nothing to do, nothing tried: no route can be added now
    node.reconnect("eth1", 9)
    after = repairer.repair(with_rules=False)
    assert after.waiting is None
    assert ("route", "10.244.2.0/24", "172.30.5.12") in node.done
    assert node.files[KEEPALIVED_CONF] == CONF.replace("eth0", "eth1")
    assert ("reload", "keepalived.service") in node.done
    assert f"{KEEPALIVED_CONF}: interface eth1" in after.changes
    # the address is announced first, so the VRRP master's adverts reach this node before
    # its just-reloaded keepalived would claim MASTER (garp.py)
    assert node.done[0] == ("garp", "eth1", "02:42:ac:1e:05:0b", CFG.address)
    assert "172.30.5.11 announced on eth1 (gratuitous ARP)" in after.changes
    node.done.clear()
    assert repairer.repair(with_rules=True).changes == [] and node.done == []


def test_same_name_new_interface_reloads_keepalived_without_rewriting(node, repairer):
    node.files[KEEPALIVED_CONF] = CONF
    repairer.repair(with_rules=False)
    node.partition()
    repairer.repair(with_rules=False)
    node.reconnect("eth0", 11)
    after = repairer.repair(with_rules=False)
    assert after.changes[-1] == "keepalived reloaded: interface eth0 was created again"
    assert node.files[KEEPALIVED_CONF] == CONF
    assert ("reload", "keepalived.service") in node.done


def test_keepalived_not_running_gets_its_file_fixed_but_no_reload(node, repairer):
    node.files[KEEPALIVED_CONF] = CONF
    node.active["keepalived.service"] = False
    node.partition()
    node.reconnect("eth1", 9)
    repairer.repair(with_rules=False)
    assert "interface eth1" in node.files[KEEPALIVED_CONF]
    assert ("reload", "keepalived.service") not in node.done


def test_one_failing_part_does_not_stop_the_others(node, repairer):
    node.flush()
    node.route_list = [r for r in node.route_list if r["dst"] != "10.244.2.0/24"]
    node.unreachable = True
    with pytest.raises(HostError, match="Nexthop has invalid gateway"):
        repairer.repair(with_rules=True)
    assert node.canary_ok()  # the rules came back all the same


def test_decide_is_pure_and_reports_in_check_mode(node, repairer):
    node.flush()
    before = node.ipt.save()
    repairs = repairer.repair(with_rules=True, check=True)
    assert repairs.restore and node.ipt.save() == before and node.done == []
    seen = Observed(routes=[], links=node.links(), save_text=None)
    assert decide(CFG, seen).restore is None  # rules not read: rules not judged


def test_the_address_is_announced_only_when_the_uplink_is_a_new_interface(node):
    r = Repairer(CFG, ops=node, record_path="rec.json")
    r.repair(with_rules=True)  # the first look: no announcement at start
    r.repair(with_rules=False)  # the same interface: none either
    assert not any(d[0] == "garp" for d in node.done)
    node.partition()
    r.repair(with_rules=False)  # nothing holds the address: nothing to announce on
    node.reconnect("eth0", 11, mac="02:42:ac:1e:05:99")  # same name, new interface, new MAC
    after = r.repair(with_rules=False)
    assert ("garp", "eth0", "02:42:ac:1e:05:99", CFG.address) in node.done
    assert after.announce


def test_no_mac_no_announcement(node):
    r = Repairer(CFG, ops=node, record_path="rec.json")
    r.repair(with_rules=False)
    node.partition()
    node.reconnect("eth1", 9, mac="")  # `ip -j addr` without a link address
    assert not r.repair(with_rules=False).announce
    assert not any(d[0] == "garp" for d in node.done)


def test_a_failed_announcement_still_reloads_keepalived(node, repairer):
    node.files[KEEPALIVED_CONF] = CONF
    repairer.repair(with_rules=False)
    node.partition()
    node.reconnect("eth1", 9)

    def refused(interface, mac, address):
        raise PermissionError(1, "Operation not permitted")

    node.announce = refused
    with pytest.raises(HostError, match="Operation not permitted"):
        repairer.repair(with_rules=False)
    assert ("reload", "keepalived.service") in node.done
