"""Nodes, ClusterIPs, NodePorts, LoadBalancer IPs and outputs: allocated and kept stable."""

from __future__ import annotations

import ipaddress

import pytest
from plan_builders import replan, stack_of, web_program

import podplay as pp
from podplay.dsl import ProgramError
from podplay.plan import ClusterFacts, NodeFacts
from podplay.plan.facts import facts_from_inventory


def services_program(names: list[str], service_cidr: str = "10.96.0.0/16", **cluster: object):
    def build() -> None:
        pp.Cluster("dev", nodes=1, service_cidr=service_cidr, **cluster)
        for name in names:
            pp.Service(name, selector={"app": name}, ports=[80])

    return stack_of(build)


def test_local_nodes_are_numbered_as_the_substrate_numbers_them() -> None:
    result = replan(web_program(nodes=3))
    assert [(n.name, n.pod_cidr, n.address) for n in result.nodes] == [
        ("node1", "10.244.1.0/24", None),
        ("node2", "10.244.2.0/24", None),
        ("node3", "10.244.3.0/24", None),
    ]
    assert result.pending[0].startswith("node addresses and SSH details")


def test_local_node_facts_supply_addresses_and_must_match_the_count() -> None:
    world = ClusterFacts(
        nodes=[
            NodeFacts(name=f"node{i}", address=f"172.30.0.{10 + i}", pod_cidr=f"10.244.{i}.0/24")
            for i in (1, 2)
        ],
        lb_pool="172.30.0.240-172.30.0.254",
    )
    result = replan(web_program(nodes=2), facts=world)
    assert [n.address for n in result.nodes] == ["172.30.0.11", "172.30.0.12"]
    assert result.pending == []
    with pytest.raises(ProgramError, match="nodes=3 but the existing cluster has 2 nodes"):
        replan(web_program(nodes=3), facts=world)


def hosts_program(names: list[str]):
    def build() -> None:
        pp.Cluster(
            "prod",
            nodes=[
                pp.Node(n, f"192.0.2.{i + 10}", ssh_key="~/.ssh/id") for i, n in enumerate(names)
            ],
        )

    return stack_of(build)


def test_hosts_get_cidrs_by_position_and_keep_them() -> None:
    first = replan(hosts_program(["a", "b", "c"]))
    assert [n.pod_cidr for n in first.nodes] == ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    assert first.nodes[0].connection == {
        "ansible_host": "192.0.2.10",
        "ansible_user": "root",
        "ansible_port": 22,
        "ansible_ssh_private_key_file": "~/.ssh/id",
    }
    without_b = replan(hosts_program(["a", "c", "d"]), first)
    assert {n.name: n.pod_cidr for n in without_b.nodes} == {
        "a": "10.244.1.0/24",
        "c": "10.244.3.0/24",
        "d": "10.244.2.0/24",
    }


def test_cluster_ips_avoid_reserved_and_do_not_depend_on_other_services() -> None:
    alone = replan(services_program(["web"]))
    crowd = replan(services_program(["api", "db", "web", "zz"]))
    ip = {s.name: s.cluster_ip for s in crowd.services}
    assert alone.services[0].cluster_ip == ip["web"]
    assert len(set(ip.values())) == 4
    for value in ip.values():
        assert value not in ("10.96.0.0", "10.96.0.1", "10.96.0.10", "10.96.255.255")
        assert ipaddress.IPv4Address(value) in ipaddress.IPv4Network("10.96.0.0/16")


def test_cluster_ips_fill_a_small_cidr_then_fail_clearly() -> None:
    names = [f"s{i}" for i in range(13)]
    result = replan(services_program(names[:12], service_cidr="10.96.0.0/28"))
    offsets = sorted(int(s.cluster_ip.split(".")[-1]) for s in result.services)
    assert offsets == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]
    with pytest.raises(ProgramError, match=r"no free ClusterIP left in service_cidr 10.96.0.0/28"):
        replan(services_program(names, service_cidr="10.96.0.0/28"))


def test_a_kept_cluster_ip_survives_a_new_service_that_hashes_to_it() -> None:
    before = replan(services_program(["web"]))
    after = replan(services_program(["web", "api", "db"]), before)
    assert after.services[2].cluster_ip == before.services[0].cluster_ip


def node_port_program(explicit: int | None, second: bool = False):
    def build() -> None:
        pp.Cluster("dev", nodes=1)
        pp.Service("a", type="NodePort", selector={"app": "a"}, ports=[80, 81])
        if second:
            pp.Service(
                "b",
                type="NodePort",
                selector={"app": "b"},
                ports=[pp.ServicePort(80, node_port=explicit)],
            )

    return stack_of(build)


def test_node_ports_are_allocated_in_range_and_kept() -> None:
    first = replan(node_port_program(None))
    ports = [p.node_port for p in first.services[0].ports]
    assert all(30000 <= p <= 32767 for p in ports) and len(set(ports)) == 2
    assert replan(node_port_program(None), first) == first


def test_crowded_node_ports_stay_unique() -> None:
    """300 hashed ports in 2,768 collide many times over: probing must keep them apart."""

    def build() -> None:
        pp.Cluster("dev", nodes=1)
        for i in range(300):
            pp.Service(f"s{i}", selector={"app": "x"}, type="NodePort", ports=[80])

    ports = [p.node_port for s in replan(stack_of(build)).services for p in s.ports]
    assert len(ports) == 300 and len(set(ports)) == 300
    assert all(30000 <= p <= 32767 for p in ports)  # type: ignore[operator]


def test_an_explicit_node_port_wins_over_a_previously_allocated_one() -> None:
    first = replan(node_port_program(None))
    taken = first.services[0].ports[0].node_port
    after = replan(node_port_program(taken, second=True), first)
    a, b = after.services
    assert b.ports[0].node_port == taken
    assert (
        a.ports[0].node_port != taken
        and a.ports[1].node_port == first.services[0].ports[1].node_port
    )


def lb_program(count: int, pool: str | None, explicit: str | None = None, nodes=2):
    def build() -> None:
        pp.Cluster("dev", nodes=nodes, lb_pool=pool)
        for i in range(count):
            pp.Service(
                f"lb{i}",
                type="LoadBalancer",
                selector={"app": "x"},
                ports=[80],
                load_balancer_ip=explicit if i == count - 1 else None,
            )

    return stack_of(build)


def test_load_balancer_ips_come_from_the_pool_in_order_and_stay() -> None:
    first = replan(lb_program(2, "192.0.2.240/29"))
    assert [s.load_balancer_ip for s in first.services] == ["192.0.2.241", "192.0.2.242"]
    assert all(p.node_port for s in first.services for p in s.ports), "LB services get NodePorts"
    after = replan(lb_program(3, "192.0.2.240/29", explicit="192.0.2.241"), first)
    # lb2 asks for lb0's address: lb0 moves to the next free one, lb1 keeps its own
    assert [s.load_balancer_ip for s in after.services] == [
        "192.0.2.243",
        "192.0.2.242",
        "192.0.2.241",
    ]


def test_a_local_cluster_takes_its_pool_from_the_facts_or_leaves_it_pending() -> None:
    pending = replan(lb_program(1, None))
    assert pending.services[0].load_balancer_ip is None
    assert any("LoadBalancer IP of service default/lb0" in p for p in pending.pending)
    world = ClusterFacts(
        nodes=[NodeFacts(name="node1"), NodeFacts(name="node2")],
        lb_pool="172.30.0.239-172.30.0.254",
    )
    assert replan(lb_program(1, None), facts=world).services[0].load_balancer_ip == "172.30.0.239"


def test_outputs_and_env_values_resolve_to_planned_addresses() -> None:
    def build() -> None:
        pp.Cluster("dev", nodes=1)
        db = pp.Service("db", selector={"app": "db"}, type="NodePort", ports=[5432])
        pp.Deployment(
            "web",
            containers=[pp.Container("web", "busybox", env={"DB_HOST": db.cluster_ip})],
        )
        pp.export("db", {"ip": db.cluster_ip, "port": db.node_port(), "name": db.dns_name})

    result = replan(stack_of(build))
    db = result.services[0]
    assert result.outputs == {
        "db": {
            "ip": db.cluster_ip,
            "port": db.ports[0].node_port,
            "name": "db.default.svc.cluster.local",
        }
    }
    assert result.pods[0].manifest["containers"][0]["env"] == {"DB_HOST": db.cluster_ip}


def test_facts_from_the_substrate_inventory() -> None:
    inventory = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": "/root/.podplay/clusters/dev/id_ed25519",
                "podplay_lb_pool": [f"172.30.0.{i}" for i in range(239, 255)],
                "podplay_cluster_name": "dev",
            },
            "children": {
                "nodes": {
                    "hosts": {
                        "node1": {
                            "ansible_host": "172.30.0.11",
                            "podplay_node_address": "172.30.0.11",
                            "podplay_node_pod_cidr": "10.244.1.0/24",
                        },
                        "node2": {
                            "ansible_host": "172.30.0.12",
                            "podplay_node_address": "172.30.0.12",
                            "podplay_node_pod_cidr": "10.244.2.0/24",
                        },
                    }
                }
            },
        }
    }
    world = facts_from_inventory(inventory)
    assert world.lb_pool == "172.30.0.239-172.30.0.254"
    assert [(n.name, n.address, n.pod_cidr) for n in world.nodes] == [
        ("node1", "172.30.0.11", "10.244.1.0/24"),
        ("node2", "172.30.0.12", "10.244.2.0/24"),
    ]
    assert world.nodes[0].connection == {
        "ansible_host": "172.30.0.11",
        "ansible_ssh_private_key_file": "/root/.podplay/clusters/dev/id_ed25519",
        "ansible_user": "root",
    }


def test_an_inventory_host_without_an_ip_needs_podplay_node_address() -> None:
    from podplay.errors import UserInputError

    data = {"all": {"hosts": {"web1": {"ansible_host": "web1.example.test"}}}}
    with pytest.raises(UserInputError, match='host "web1" needs an IPv4 address'):
        facts_from_inventory(data, "hosts.yml")
    data["all"]["hosts"]["web1"]["podplay_node_address"] = "192.0.2.5"
    assert facts_from_inventory(data).nodes[0].address == "192.0.2.5"
