"""The placement rules alone (`podplay.node.placement`, no planner, no pydantic): which node
each new pod goes to, its IP, and why pods cannot be placed. Table-driven: a new case is a
new row."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from podplay.node import placement
from podplay.node.placement import (
    NO_FREE_IP,
    NO_READY_NODE,
    NO_ROOM,
    SELECTOR_MATCHES_NO_READY_NODE,
    Binding,
    Infeasible,
    Node,
    PlacedPod,
    Request,
    Room,
    choose_node,
    node_states,
    place_pods,
)

WEB = ("default", "web")
API = ("default", "api")
MI = 2**20


def node(
    i: int,
    *,
    labels: dict[str, str] | None = None,
    ready: bool = True,
    cpu: int | None = None,
    memory: int | None = None,
    pods: int = 110,
    cursor: str | None = None,
    cidr: str | None = None,
) -> Node:
    return Node(
        name=f"node{i}",
        pod_cidr=cidr or f"10.244.{i}.0/24",
        labels=labels or {},
        ready=ready,
        cpu_millis=cpu,
        memory_bytes=memory,
        max_pods=pods,
        last_pod_ip=cursor,
    )


def pod(on: int, last_octet: int, deployment=WEB, cpu: int = 0, memory: int = 0) -> PlacedPod:
    return PlacedPod(deployment, f"node{on}", f"10.244.{on}.{last_octet}", Request(cpu, memory))


class Case(NamedTuple):
    id: str
    nodes: list[Node]
    placed: list[PlacedPod]
    count: int
    want: list[str]  # the node of each new pod, in order
    selector: dict[str, str] = {}
    request: Request = Request()


def run(case: Case) -> placement.Placed:
    states = node_states(case.nodes, case.placed)
    return place_pods(states, WEB, case.selector, case.request, case.count)


def nodes_of(placed: placement.Placed) -> list[str]:
    return [b.node for b in placed.bindings]


THREE = [node(1), node(2), node(3)]

# fmt: off
SPREAD = [
    Case("empty: one per node, then node order", THREE, [], 5,
         ["node1", "node2", "node3", "node1", "node2"]),
    Case("this deployment's pods count first", THREE,
         [pod(1, 2), pod(2, 2, API), pod(2, 3, API), pod(3, 2, API), pod(3, 3, API)], 3,
         ["node2", "node3", "node1"]),
    Case("then all pods", THREE, [pod(1, 2, API), pod(1, 3, API), pod(2, 2, API)], 3,
         ["node3", "node2", "node1"]),
    Case("then node order (the given order, not the name)", [node(3), node(1), node(2)], [], 2,
         ["node3", "node1"]),
    Case("pods of unknown nodes are ignored", THREE, [pod(9, 2)], 1, ["node1"]),
]
# fmt: on

# fmt: off
SELECTOR = [
    Case("empty selector: every ready node", [node(1, labels={"a": "b"}), node(2)], [], 2,
         ["node1", "node2"]),
    Case("every key/value must match", [node(1, labels={"disk": "ssd"}),
         node(2, labels={"disk": "ssd", "zone": "a"}), node(3, labels={"zone": "a"})], [], 2,
         ["node2", "node2"], selector={"disk": "ssd", "zone": "a"}),
    Case("a value that differs does not match", [node(1, labels={"disk": "hdd"}),
         node(2, labels={"disk": "ssd"})], [], 2, ["node2", "node2"], selector={"disk": "ssd"}),
    Case("not ready nodes take nothing", [node(1, ready=False), node(2), node(3, ready=False)],
         [], 2, ["node2", "node2"]),
]
# fmt: on

# fmt: off
CAPACITY = [
    Case("unknown cpu and memory are unlimited", [node(1), node(2, cpu=500)], [], 4,
         ["node1", "node2", "node1", "node1"], request=Request(cpu_millis=400)),
    Case("cpu: requests add up to the capacity, not beyond", [node(1, cpu=1000), node(2, cpu=1000)],
         [], 4, ["node1", "node2", "node1", "node2"], request=Request(cpu_millis=500)),
    Case("memory", [node(1, memory=100 * MI), node(2, memory=300 * MI)], [], 3,
         ["node1", "node2", "node2"], request=Request(memory_bytes=100 * MI)),
    Case("placed pods' requests count", [node(1, cpu=1000), node(2, cpu=1000)],
         [pod(1, 2, API, cpu=800)], 2, ["node2", "node2"], request=Request(cpu_millis=500)),
    Case("pod-count cap", [node(1, pods=1), node(2, pods=3)], [pod(2, 2, API)], 3,
         ["node1", "node2", "node2"]),
    Case("a zero request fits a full cpu", [node(1, cpu=100)], [pod(1, 2, API, cpu=100)], 1,
         ["node1"]),
]
# fmt: on


@pytest.mark.parametrize("case", SPREAD + SELECTOR + CAPACITY, ids=lambda c: c.id)
def test_where_new_pods_go(case: Case) -> None:
    placed = run(case)
    assert placed.infeasible is None
    assert nodes_of(placed) == case.want


class IpCase(NamedTuple):
    id: str
    node: Node
    placed: list[PlacedPod]
    count: int
    want: list[str]  # last octets of the new pods' IPs
    cursor: str | None  # the node's cursor afterwards


# fmt: off
IPS = [
    IpCase("from .2 without cursor or pods", node(1), [], 3, ["2", "3", "4"], "10.244.1.4"),
    IpCase("after the cursor", node(1, cursor="10.244.1.40"), [], 2, ["41", "42"],
           "10.244.1.42"),
    IpCase("used IPs are skipped", node(1, cursor="10.244.1.9"), [pod(1, 10), pod(1, 12)], 3,
           ["11", "13", "14"], "10.244.1.14"),
    IpCase("after .254, the lowest free", node(1, cursor="10.244.1.253"), [pod(1, 2)], 3,
           ["254", "3", "4"], "10.244.1.4"),
    IpCase("a cursor at .254 wraps at once", node(1, cursor="10.244.1.254"), [], 1, ["2"],
           "10.244.1.2"),
    IpCase("a recorded cursor wins over higher held IPs", node(1, cursor="10.244.1.3"),
           [pod(1, 9)], 2, ["4", "5"], "10.244.1.5"),
    IpCase("no cursor: after the highest IP held", node(1), [pod(1, 9), pod(1, 4)], 2,
           ["10", "11"], "10.244.1.11"),
    IpCase("a cursor outside the node's CIDR counts as none", node(1, cursor="10.244.2.7"),
           [pod(1, 5)], 1, ["6"], "10.244.1.6"),
    IpCase("the gateway or broadcast as cursor counts as none", node(1, cursor="10.244.1.255"),
           [], 1, ["2"], "10.244.1.2"),
    IpCase("nothing placed: the cursor stays", node(1, cursor="10.244.1.7"), [], 0, [],
           "10.244.1.7"),
]
# fmt: on


@pytest.mark.parametrize("case", IPS, ids=lambda c: c.id)
def test_pod_ips(case: IpCase) -> None:
    states = node_states([case.node], case.placed)
    placed = place_pods(states, WEB, {}, Request(), case.count)
    assert placed.infeasible is None
    assert [b.ip.rsplit(".", 1)[1] for b in placed.bindings] == case.want
    assert states[0].last_ip() == case.cursor


def test_every_pod_ip_of_a_node_is_handed_out_once_then_none() -> None:
    states = node_states([node(1, pods=300)])
    placed = place_pods(states, WEB, {}, Request(), 254)
    ips = [b.ip for b in placed.bindings]
    assert len(ips) == len(set(ips)) == 253
    assert ips[0] == "10.244.1.2" and ips[-1] == "10.244.1.254"
    assert placed.infeasible == Infeasible(NO_FREE_IP, 253, "node1", "10.244.1.0/24")


class WhyCase(NamedTuple):
    id: str
    nodes: list[Node]
    placed: list[PlacedPod]
    count: int
    placed_first: int  # how many are placed before the one that cannot be
    why: Infeasible
    selector: dict[str, str] = {}
    request: Request = Request()


# fmt: off
WHY = [
    WhyCase("no nodes at all", [], [], 1, 0, Infeasible(NO_READY_NODE, 0)),
    WhyCase("no node ready", [node(1, ready=False), node(2, ready=False)], [], 2, 0,
            Infeasible(NO_READY_NODE, 0)),
    WhyCase("the selector matches only a node that is not ready",
            [node(1, labels={"disk": "ssd"}, ready=False), node(2)], [], 1, 0,
            Infeasible(SELECTOR_MATCHES_NO_READY_NODE, 0), selector={"disk": "ssd"}),
    WhyCase("no room: what each eligible node has left, unknown as None",
            [node(1, cpu=1000, memory=512 * MI), node(2, pods=2), node(3, labels={"x": "y"},
             ready=False)], [pod(2, 2, API)], 4, 3,
            Infeasible(NO_ROOM, 3, room=(Room("node1", 0, 312 * MI, 108), Room("node2", None,
                       None, 0))),
            request=Request(cpu_millis=500, memory_bytes=100 * MI)),
    WhyCase("no room by pod count", [node(1, pods=1)], [], 2, 1,
            Infeasible(NO_ROOM, 1, room=(Room("node1", None, None, 0),))),
    WhyCase("no free IP on the node chosen", [node(1, cidr="10.244.1.0/29")], [], 6, 5,
            Infeasible(NO_FREE_IP, 5, node="node1", pod_cidr="10.244.1.0/29")),
    WhyCase("no free IP: held ones count", [node(1, cidr="10.244.1.0/30")], [pod(1, 2)], 1, 0,
            Infeasible(NO_FREE_IP, 0, node="node1", pod_cidr="10.244.1.0/30")),
]
# fmt: on


@pytest.mark.parametrize("case", WHY, ids=lambda c: c.id)
def test_why_pods_cannot_be_placed(case: WhyCase) -> None:
    states = node_states(case.nodes, case.placed)
    placed = place_pods(states, WEB, case.selector, case.request, case.count)
    assert len(placed.bindings) == case.placed_first
    assert placed.infeasible == case.why


def test_choose_node_places_nothing_itself() -> None:
    states = node_states(THREE)
    first = choose_node(states, WEB, {}, Request())
    assert first is not None and first.name == "node1"
    assert choose_node(states, WEB, {}, Request()) is first, "no load was added"
    assert choose_node(states, WEB, {"disk": "ssd"}, Request()) is None


def test_placing_updates_the_states_for_the_next_deployment() -> None:
    """The controller places several deployments one after the other on the same states."""
    states = node_states([node(1, cpu=1000), node(2, cpu=1000)])
    assert place_pods(states, WEB, {}, Request(cpu_millis=600), 2).bindings == [
        Binding("node1", "10.244.1.2"),
        Binding("node2", "10.244.2.2"),
    ]
    later = place_pods(states, API, {}, Request(cpu_millis=500), 1)
    assert later.bindings == [] and later.infeasible is not None
    assert later.infeasible.room == (Room("node1", 400, None, 109), Room("node2", 400, None, 109))


FILE = Path(placement.__file__)
PODPLAY = FILE.parents[1]


def test_parses_as_python_3_9_and_imports_only_the_standard_library() -> None:
    """It ships in the node bundle and runs on the hosts' python3 (3.9 on older hosts).
    Besides the standard library it may use the node contract's pure modules (the pod
    address rule, `podplay.node.contract.addresses`), which are held to the same rule."""
    files, seen = [FILE], set()
    while files:
        path = files.pop()
        seen.add(path)
        for name in _imports(path):
            if name.startswith("podplay.node.contract"):
                module = PODPLAY.joinpath(*name.split(".")[1:])
                for found in (module.with_suffix(".py"), module / "__init__.py"):
                    if found.is_file() and found not in seen:
                        files.append(found)
                continue
            assert name.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {name}"
    assert PODPLAY / "node" / "contract" / "addresses.py" in seen


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    names: list[str] = []
    for item in ast.walk(tree):
        assert not isinstance(item, ast.Match), "match needs Python 3.10"
        if isinstance(item, ast.Import):
            names += [a.name for a in item.names]
        elif isinstance(item, ast.ImportFrom):
            module = item.module or ""
            names.append(module)
            if module == "podplay.node.contract":  # `from podplay.node.contract import x`
                names += [f"{module}.{a.name}" for a in item.names]
    return names
