"""The rules renderer, by golden text and by behaviour (a packet tracer over a fake iptables).

Golden files live in golden/; regenerate with PODPLAY_UPDATE_GOLDEN=1 after a deliberate
change and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_iptables import FakeIptables, RestoreError
from hypothesis import given, settings
from hypothesis import strategies as hs
from packet_tracer import Packet, Tracer, endpoints, only
from proxy_cases import FOREIGN_SAVE, all_ready, cluster_json, local, state

from podplay.node.proxy.rules import RenderCache, build_ruleset, probability, render, svc_chain
from podplay.node.proxy.ruleset import is_own_chain, parse_save, restore_text, target_of

GOLDEN = Path(__file__).parent / "golden"
NODE_IPS = {"node1": "172.30.5.11", "node2": "172.30.5.12", "node3": "172.30.5.13"}


def sorted_rules(text: str) -> str:
    """Stable form for comparison: per table, declarations sorted, rules grouped per chain
    in their original order, chains sorted (rule order inside a chain is meaningful)."""
    out: list[str] = []
    table = None
    decls: list[str] = []
    rules: dict[str, list[str]] = {}
    other: list[str] = []
    for line in text.splitlines():
        if line.startswith("*"):
            table, decls, rules, other = line, [], {}, []
        elif line == "COMMIT":
            out.append(table)
            out.extend(sorted(decls))
            for chain in sorted(rules):
                out.extend(rules[chain])
            out.extend(other)
            out.append("COMMIT")
        elif line.startswith(":"):
            decls.append(line)
        elif line.startswith("-A "):
            rules.setdefault(line.split()[1], []).append(line)
        elif line:
            other.append(line)
    return "\n".join(out) + "\n"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    text = sorted_rules(text)
    if os.environ.get("PODPLAY_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with PODPLAY_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def node_kernel(name: str = "node1", foreign: bool = True) -> FakeIptables:
    ipt = FakeIptables()
    if foreign:
        ipt.restore(FOREIGN_SAVE, noflush=False)
    return ipt


def applied(name: str = "node1", ready=None, raw=None, foreign: bool = True) -> FakeIptables:
    """A node's fake kernel after one full sync of the proxy."""
    st = state(raw)
    ipt = node_kernel(name, foreign)
    text = render(
        st, all_ready(st) if ready is None else ready, local(name), parse_save(ipt.save())
    )
    ipt.restore(text)
    return ipt


def tracer(ipt: FakeIptables, name: str = "node1", extra_local: tuple = ()) -> Tracer:
    node = local(name)
    return Tracer(ipt, {node.address, node.gateway, "127.0.0.1", *extra_local}, node.pod_cidr)


# -- golden text ------------------------------------------------------------------------------


def test_golden_fresh_node1():
    st = state()
    check_golden("node1-fresh.rules", render(st, all_ready(st), local("node1")))


def test_golden_node2_with_unready_endpoints():
    st = state()
    ready = all_ready(st, except_pods=("dead-a", "web-b", "front-a", "front-b"))
    check_golden("node2-unready.rules", render(st, ready, local("node2")))


def test_golden_over_foreign_rules_and_stale_chains():
    """On a kernel with Docker's rules, the network setup's and stale chains of ours."""
    ipt = applied("node1")
    raw = cluster_json()
    raw["services"] = [s for s in raw["services"] if s["name"] not in ("web", "sticky")]
    st = state(raw)
    text = render(st, all_ready(st), local("node1"), parse_save(ipt.save()))
    check_golden("node1-services-removed.rules", text)


def test_render_is_deterministic():
    st = state()
    assert render(st, all_ready(st), local()) == render(state(), all_ready(state()), local())


# -- what the kernel ends up with -----------------------------------------------------------------


def test_no_rule_jumps_to_a_missing_chain():
    ipt = applied("node1")
    assert ipt.dangling_jumps() == []
    ruleset = build_ruleset(state(), all_ready(state()), local())
    for table, chains in ruleset.tables.items():
        for rules in chains.values():
            for rule in rules:
                target = rule.split("-j ")[-1].split()[0]
                if target.startswith("PODPLAY-"):
                    assert target in chains, (table, rule)


def test_foreign_rules_survive_untouched():
    before = parse_save(node_kernel().save())
    after = parse_save(applied("node1").save())
    for table in ("filter", "nat"):
        for chain, rules in before.chains[table].items():
            foreign_after = [
                r for r in after.chains[table][chain] if not is_own_chain(target_of(r) or "")
            ]
            assert foreign_after == rules, (table, chain)
    assert (
        after.chains["filter"]["PODPLAY-NET-FORWARD"]
        == before.chains["filter"]["PODPLAY-NET-FORWARD"]
    )


def test_jump_rules_sit_at_the_top_in_order():
    saved = parse_save(applied("node1").save())
    assert [r.split()[-1] for r in saved.rules("filter", "FORWARD")[:3]] == [
        "PODPLAY-SERVICES",
        "PODPLAY-EXTERNAL-SERVICES",
        "PODPLAY-FORWARD",
    ]
    assert saved.rules("nat", "PREROUTING")[0].endswith("-j PODPLAY-SERVICES")
    assert saved.rules("nat", "POSTROUTING")[0].endswith("-j PODPLAY-POSTROUTING")


def test_second_full_sync_over_an_unchanged_kernel_writes_nothing():
    ipt = applied("node1")
    snapshot = ipt.save()
    st = state()
    text = render(st, all_ready(st), local("node1"), parse_save(snapshot))
    assert text == ""  # every chain is already there word for word


def test_full_sync_rewrites_only_chains_that_differ_from_the_kernel():
    ipt = applied("node1")
    web = svc_chain_of("web")
    ipt.restore(f"*nat\n-D {web} -p tcp -j DNAT --to-destination 10.244.3.5:8080\nCOMMIT\n")
    st = state()
    text = render(st, all_ready(st), local("node1"), parse_save(ipt.save()))
    assert text.count(":PODPLAY-") == 1 and f":{web} " in text


@pytest.mark.parametrize("k", [1, 2, 3, 7, 9, 10, 11, 1000])
def test_probabilities_are_written_as_iptables_save_prints_them(k: int):
    printed = probability(k)
    assert len(printed.split(".")[1]) == 11
    assert abs(float(printed) - 1 / k) < 1e-9


def test_misplaced_and_duplicate_jumps_are_repaired():
    ipt = applied("node1")
    # Docker restarts and puts its jump above ours; someone duplicates one of ours.
    ipt.restore(
        "*filter\n-D FORWARD -j DOCKER-USER\n-I FORWARD 1 -j DOCKER-USER\n"
        '-A OUTPUT -m comment --comment "podplay service portals" -m conntrack --ctstate NEW '
        "-j PODPLAY-SERVICES\nCOMMIT\n"
    )
    st = state()
    ipt.restore(render(st, all_ready(st), local("node1"), parse_save(ipt.save())))
    saved = parse_save(ipt.save())
    assert saved.rules("filter", "FORWARD")[0].endswith("-j PODPLAY-SERVICES")
    assert sum(r.endswith("PODPLAY-SERVICES") for r in saved.rules("filter", "OUTPUT")) == 1
    assert "-j DOCKER-USER" in saved.rules("filter", "FORWARD")


def test_removed_service_leaves_no_chain_and_network_chains_stay():
    ipt = applied("node1")
    assert svc_chain_of("web") in ipt.chains("nat")
    raw = cluster_json()
    raw["services"] = []
    st = state(raw)
    ipt.restore(render(st, set(), local("node1"), parse_save(ipt.save())))
    own = [c for t in ("filter", "nat") for c in ipt.chains(t, "PODPLAY-") if is_own_chain(c)]
    assert sorted(set(own)) == sorted(
        {
            "PODPLAY-CANARY",
            "PODPLAY-SERVICES",
            "PODPLAY-EXTERNAL-SERVICES",
            "PODPLAY-FORWARD",
            "PODPLAY-NODEPORTS",
            "PODPLAY-POSTROUTING",
        }
    )
    assert not [c for c in ipt.chains("nat") if c.startswith("PODPLAY-SVC-")]
    assert "PODPLAY-NET-POSTROUTING" in ipt.chains("nat")
    assert "PODPLAY-NET-FORWARD" in ipt.chains("filter")
    assert ipt.dangling_jumps() == []


def test_the_fake_refuses_what_iptables_refuses():
    ipt = applied("node1")
    with pytest.raises(RestoreError):  # deleting a chain still jumped to
        ipt.restore("*nat\n-X PODPLAY-NODEPORTS\nCOMMIT\n")
    with pytest.raises(RestoreError):  # jumping to a chain that does not exist
        ipt.restore("*nat\n-A PODPLAY-SERVICES -j PODPLAY-SVC-NOPE\nCOMMIT\n")
    with pytest.raises(RestoreError):  # deleting a rule that is not there
        ipt.restore("*nat\n-D PREROUTING -j PODPLAY-NOPE\nCOMMIT\n")


def svc_chain_of(name: str, port_index: int = 0) -> str:
    st = state()
    service = next(s for s in st.services if s.name == name)
    return svc_chain(service, service.ports[port_index])


# -- where packets go -------------------------------------------------------------------------


def test_cluster_ip_balances_evenly_over_every_ready_endpoint():
    t = tracer(applied("node1"))
    outcomes = t.trace(Packet("10.244.1.50", "10.96.0.20", "tcp", 80, "pod"))
    assert endpoints(outcomes) == {
        "10.244.1.5:8080": pytest.approx(1 / 3),
        "10.244.2.5:8080": pytest.approx(1 / 3),
        "10.244.3.5:8080": pytest.approx(1 / 3),
    }
    assert not any(o.masquerade for o in outcomes)  # pod to pod keeps its source address


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_statistic_probabilities_give_each_endpoint_one_nth(n: int):
    raw = cluster_json()
    web = next(s for s in raw["services"] if s["name"] == "web")
    web["endpoints"] = [
        {"pod": f"w{i}", "namespace": "default", "node": "node2", "ip": f"10.244.2.{20 + i}"}
        for i in range(n)
    ]
    t = tracer(applied("node1", raw=raw))
    dist = endpoints(t.trace(Packet("10.244.1.50", "10.96.0.20", "tcp", 80, "pod")))
    assert len(dist) == n
    for p in dist.values():
        assert p == pytest.approx(1 / n, abs=1e-6)


def test_cluster_ip_from_a_node_process_is_masqueraded():
    t = tracer(applied("node1"))
    outcomes = t.trace(Packet("172.30.5.11", "10.96.0.20", "tcp", 80, "node"))
    assert len(endpoints(outcomes)) == 3
    assert all(o.masquerade and o.verdict == "ACCEPT" for o in outcomes)


def test_wrong_port_of_a_cluster_ip_is_not_translated():
    t = tracer(applied("node1"))
    o = only(t.trace(Packet("10.244.1.50", "10.96.0.20", "tcp", 81, "pod")))
    assert not o.dnat


def test_unready_endpoint_gets_no_traffic():
    st = state()
    ready = all_ready(st, except_pods=("dead-a", "web-b"))
    t = tracer(applied("node1", ready=ready))
    dist = endpoints(t.trace(Packet("10.244.1.50", "10.96.0.20", "tcp", 80, "pod")))
    assert dist == {"10.244.1.5:8080": 0.5, "10.244.3.5:8080": 0.5}


def test_node_port_from_outside_on_a_node_without_local_endpoint():
    # shop's only endpoint runs on node2; the client hits node1 and node3
    for name in ("node1", "node3"):
        t = tracer(applied(name), name)
        o = only(t.trace(Packet("172.30.5.1", NODE_IPS[name], "tcp", 30080, "outside")))
        assert (o.verdict, o.dest, o.masquerade, o.local) == (
            "ACCEPT",
            "10.244.2.7:8080",
            True,
            False,
        )


def test_node_port_on_the_node_with_the_endpoint_is_masqueraded_too():
    t = tracer(applied("node2"), "node2")
    o = only(t.trace(Packet("172.30.5.1", "172.30.5.12", "tcp", 30080, "outside")))
    assert (o.dest, o.masquerade) == ("10.244.2.7:8080", True)


def test_load_balancer_ip_and_its_node_port():
    t = tracer(applied("node1"), extra_local=("172.30.5.240",))  # node1 holds the IP
    outcomes = t.trace(Packet("172.30.5.1", "172.30.5.240", "tcp", 80, "outside"))
    assert endpoints(outcomes) == {"10.244.1.8:8080": 0.5, "10.244.3.8:8080": 0.5}
    assert all(o.masquerade for o in outcomes)
    outcomes = t.trace(Packet("172.30.5.1", "172.30.5.11", "tcp", 30081, "outside"))
    assert endpoints(outcomes) == {"10.244.1.8:8080": 0.5, "10.244.3.8:8080": 0.5}


def test_load_balancer_ip_from_a_pod_is_routed_without_the_holder():
    t = tracer(applied("node2"), "node2")  # node2 does not hold the IP
    outcomes = t.trace(Packet("10.244.2.50", "172.30.5.240", "tcp", 80, "pod"))
    assert set(endpoints(outcomes)) == {"10.244.1.8:8080", "10.244.3.8:8080"}


def test_hairpin_a_pod_reaching_its_own_service_is_masqueraded():
    t = tracer(applied("node1"))
    outcomes = t.trace(Packet("10.244.1.5", "10.96.0.20", "tcp", 80, "pod"))
    by_dest = {o.dest: o for o in outcomes}
    assert by_dest["10.244.1.5:8080"].masquerade  # to itself: must come back through the node
    assert not by_dest["10.244.2.5:8080"].masquerade
    assert not by_dest["10.244.3.5:8080"].masquerade


def test_no_ready_endpoint_rejects_at_once():
    t = tracer(applied("node1"), extra_local=("172.30.5.241",))
    for pkt in (
        Packet("10.244.1.50", "10.96.0.24", "tcp", 80, "pod"),  # ClusterIP, from a pod
        Packet("172.30.5.11", "10.96.0.24", "tcp", 80, "node"),  # ClusterIP, from the node
        Packet("172.30.5.1", "172.30.5.11", "tcp", 30082, "outside"),  # NodePort
        Packet("172.30.5.1", "172.30.5.241", "tcp", 80, "outside"),  # LoadBalancer IP
        Packet("10.244.1.50", "172.30.5.11", "tcp", 30082, "pod"),  # NodePort, from a pod
    ):
        o = only(t.trace(pkt))
        assert o.verdict == "REJECT", pkt


def test_no_endpoint_reject_comes_before_the_network_setups_accept():
    """PODPLAY-NET-FORWARD accepts all pod traffic; the reject must win (FORWARD DROP policy)."""
    t = tracer(applied("node1"))
    o = only(t.trace(Packet("10.244.1.50", "10.96.0.24", "tcp", 80, "pod")))
    assert o.verdict == "REJECT"


def test_reject_still_wins_after_docker_moves_its_chain_to_the_top():
    ipt = applied("node1")
    # dockerd restarts: DOCKER-USER goes back to the top of FORWARD, no proxy resync yet
    ipt.restore("*filter\n-D FORWARD -j DOCKER-USER\n-I FORWARD 1 -j DOCKER-USER\nCOMMIT\n")
    t = tracer(ipt)
    o = only(t.trace(Packet("10.244.1.50", "10.96.0.24", "tcp", 80, "pod")))
    assert o.verdict == "REJECT"
    assert ipt.tables["filter"]["DOCKER-USER"][0].endswith("-j PODPLAY-SERVICES")


def test_client_ip_affinity_keeps_a_client_on_one_endpoint():
    t = tracer(applied("node1"))
    first = t.trace(Packet("10.244.1.50", "10.96.0.21", "tcp", 80, "pod"))
    assert set(endpoints(first)) == {"10.244.1.6:8080", "10.244.2.6:8080"}
    chosen = next(o for o in first if o.dest == "10.244.2.6:8080")
    t.commit(chosen)
    for _ in range(3):
        again = only(t.trace(Packet("10.244.1.50", "10.96.0.21", "tcp", 80, "pod")))
        assert again.dest == "10.244.2.6:8080"
    other = t.trace(Packet("10.244.1.51", "10.96.0.21", "tcp", 80, "pod"))
    assert len(endpoints(other)) == 2  # another client is balanced afresh
    assert "--seconds 600" in "\n".join(t.ipt.tables["nat"][svc_chain_of("sticky")])


def test_udp_service():
    t = tracer(applied("node1"))
    o = only(t.trace(Packet("10.244.1.50", "10.96.0.25", "udp", 53, "pod")))
    assert o.dest == "10.244.3.10:5353"
    o = only(t.trace(Packet("10.244.1.50", "10.96.0.25", "tcp", 53, "pod")))
    assert not o.dnat


def test_cluster_dns_vip_goes_to_the_node_local_server():
    t = tracer(applied("node2"), "node2")
    for proto in ("udp", "tcp"):
        o = only(t.trace(Packet("10.244.2.50", "10.96.0.10", proto, 53, "pod")))
        assert (o.dest, o.local, o.verdict) == ("10.244.2.1:53", True, "ACCEPT")
        o = only(t.trace(Packet("172.30.5.12", "10.96.0.10", proto, 53, "node")))
        assert (o.dest, o.local) == ("10.244.2.1:53", True)


def test_external_name_and_headless_services_get_no_rules():
    text = render(state(), all_ready(state()), local())
    assert "default/ext" not in text and "default/peers" not in text


def test_traffic_that_is_not_for_a_service_is_left_alone():
    t = tracer(applied("node1"))
    o = only(t.trace(Packet("10.244.1.50", "10.244.2.5", "tcp", 8080, "pod")))
    assert (o.dnat, o.masquerade, o.verdict) == (False, False, "ACCEPT")
    o = only(t.trace(Packet("172.30.5.1", "172.30.5.11", "tcp", 22, "outside")))
    assert (o.dnat, o.verdict, o.local) == (False, "ACCEPT", True)


# -- partial syncs equal full syncs -----------------------------------------------------------


def test_partial_sync_writes_only_the_changed_chain():
    st = state()
    ready = all_ready(st)
    before = build_ruleset(st, ready, local())
    after = build_ruleset(st, ready - {e for e in ready if e.pod == "web-c"}, local())
    text = restore_text(after, applied=before)
    assert text.count(":PODPLAY-") == 1 and svc_chain_of("web") in text
    assert "*filter" not in text


def test_partial_sync_after_no_change_is_empty():
    st = state()
    rs = build_ruleset(st, all_ready(st), local())
    assert restore_text(rs, applied=build_ruleset(st, all_ready(st), local())) == ""


@settings(max_examples=40, deadline=None)
@given(st_ready=hs.lists(hs.sets(hs.integers(min_value=0, max_value=11)), min_size=1, max_size=6))
def test_cached_render_equals_a_fresh_render_through_any_sequence_of_changes(st_ready):
    """A RenderCache reused across changes never changes the result, and applying the
    partial differences leaves the kernel exactly as one full sync of the final state."""
    cluster = state()
    endpoints = sorted({e for s in cluster.services for e in s.endpoints})
    cache = RenderCache()
    ipt = node_kernel()
    ipt.restore(render(cluster, frozenset(), local(), parse_save(ipt.save())))
    applied_rs = build_ruleset(cluster, frozenset(), local(), cache)
    for picks in st_ready:
        ready = frozenset(endpoints[i] for i in picks if i < len(endpoints))
        cached = build_ruleset(cluster, ready, local(), cache)
        fresh = build_ruleset(cluster, ready, local())
        assert restore_text(cached) == restore_text(fresh)
        ipt.restore(restore_text(cached, applied=applied_rs) or "*nat\nCOMMIT\n")
        applied_rs = cached
    final = node_kernel()
    final.restore(render(cluster, ready, local(), parse_save(final.save())))
    assert ipt.save() == final.save()
    assert ipt.dangling_jumps() == []


# -- the service CIDR: what no service holds is refused, never routed out ----------------------


@pytest.mark.parametrize(
    "pkt",
    [
        Packet("10.244.1.50", "10.96.0.99", "tcp", 80, "pod"),  # an IP no service holds
        Packet("10.244.1.50", "10.96.200.7", "udp", 53, "pod"),  # ... over UDP
        Packet("172.30.5.11", "10.96.0.99", "tcp", 80, "node"),  # from a node process
        Packet("172.30.5.1", "10.96.0.99", "tcp", 443, "outside"),  # routed to the node
        Packet("10.244.1.50", "10.96.0.20", "tcp", 81, "pod"),  # a service's IP, wrong port
        Packet("172.30.5.11", "10.96.0.20", "tcp", 81, "node"),
        Packet("10.244.1.50", "10.96.0.10", "tcp", 54, "pod"),  # the DNS VIP, not port 53
    ],
    ids=["pod", "pod-udp", "node", "outside", "wrong-port", "wrong-port-node", "dns-vip-54"],
)
def test_service_cidr_address_no_service_holds_is_rejected(pkt: Packet):
    o = only(tracer(applied("node1")).trace(pkt))
    assert (o.verdict, o.dnat) == ("REJECT", False), pkt


def test_unused_service_address_is_rejected_with_a_reset_for_tcp():
    rules = applied("node1").tables["filter"]["PODPLAY-SERVICES"]
    assert rules[-2:] == [
        '-d 10.96.0.0/16 -p tcp -m comment --comment "podplay: no service at this address and '
        'port" -j REJECT --reject-with tcp-reset',
        '-d 10.96.0.0/16 -m comment --comment "podplay: no service at this address and port" '
        "-j REJECT --reject-with icmp-port-unreachable",
    ]


def test_service_cidr_reject_does_not_touch_services_dns_or_other_destinations():
    t = tracer(applied("node1"))
    for proto in ("udp", "tcp"):  # cluster DNS keeps working, from pods and node processes
        o = only(t.trace(Packet("10.244.1.50", "10.96.0.10", proto, 53, "pod")))
        assert (o.verdict, o.dest) == ("ACCEPT", "10.244.1.1:53")
        o = only(t.trace(Packet("172.30.5.11", "10.96.0.10", proto, 53, "node")))
        assert (o.verdict, o.dest) == ("ACCEPT", "10.244.1.1:53")
    outcomes = t.trace(Packet("10.244.1.50", "10.96.0.20", "tcp", 80, "pod"))
    assert all(o.verdict == "ACCEPT" for o in outcomes) and len(endpoints(outcomes)) == 3
    o = only(t.trace(Packet("10.244.1.50", "10.96.0.25", "udp", 53, "pod")))
    assert (o.verdict, o.dest) == ("ACCEPT", "10.244.3.10:5353")
    o = only(t.trace(Packet("10.244.1.50", "192.0.2.7", "tcp", 80, "pod")))  # the outside world
    assert (o.verdict, o.dnat) == ("ACCEPT", False)
    o = only(t.trace(Packet("10.244.1.50", "10.97.0.1", "tcp", 80, "pod")))  # next to the CIDR
    assert o.verdict == "ACCEPT"


def test_released_cluster_ip_is_rejected_at_once_after_the_service_goes():
    """A type change releases a ClusterIP: the next sync refuses it instead of routing it out."""
    ipt = applied("node1")
    raw = cluster_json()
    raw["services"] = [s for s in raw["services"] if s["name"] != "web"]
    st = state(raw)
    ipt.restore(render(st, all_ready(st), local("node1"), parse_save(ipt.save())))
    for pkt in (
        Packet("10.244.1.50", "10.96.0.20", "tcp", 80, "pod"),
        Packet("172.30.5.11", "10.96.0.20", "tcp", 80, "node"),
    ):
        assert only(tracer(ipt).trace(pkt)).verdict == "REJECT", pkt


def test_service_cidr_reject_wins_after_docker_moves_its_chain_to_the_top():
    ipt = applied("node1")
    ipt.restore("*filter\n-D FORWARD -j DOCKER-USER\n-I FORWARD 1 -j DOCKER-USER\nCOMMIT\n")
    o = only(tracer(ipt).trace(Packet("10.244.1.50", "10.96.0.99", "tcp", 80, "pod")))
    assert o.verdict == "REJECT"
