"""A dead node does not block the user (issue 10, item 8), against fakes: a local node whose
container is stopped is NotReady (the message that needs a node names the right container),
Ansible runs limited to the nodes that answer, the waits never ask a NotReady node, and
`destroy` cleans what it reaches and keeps the stack for what it could not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from control_builders import facts, shop_plan

from podplay import paths, substrate
from podplay.control import destroy, nodeshell, up, workspace
from podplay.control import run as up_run
from podplay.control.agent_client import ClusterAccess, NodeEndpoint
from podplay.control.nodeshell import Answer
from podplay.control.reporter import Reporter
from podplay.control.state import StackState
from podplay.control.target import NotReady, Target, check_some_ready, local_target
from podplay.control.waiting import Probe, wait_available
from podplay.errors import EnvironmentProblem
from podplay.execute import HostStats, PlaybookResult
from podplay.plan import ClusterFacts, Plan
from podplay.render import RenderOptions
from podplay.substrate import Cluster, Node


class Said(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append(f"warning: {message}")


def down(plan: Plan, *names: str) -> Plan:
    nodes = [n.model_copy(update={"ready": n.name not in names}) for n in plan.nodes]
    return plan.model_copy(update={"nodes": nodes})


def down_facts(*names: str) -> ClusterFacts:
    f = facts()
    nodes = [n.model_copy(update={"ready": n.name not in names}) for n in f.nodes]
    return f.model_copy(update={"nodes": nodes})


# -- a local cluster with a node stopped ------------------------------------------------------


@pytest.fixture
def local_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Cluster `hello` of three nodes, whose node2 (container hello-node2) is stopped."""
    states = {"node1": "running", "node2": "exited", "node3": "running"}
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    inventory = substrate.inventory_path("hello")
    inventory.parent.mkdir(parents=True)
    hosts = {
        f"node{i}": {
            "ansible_host": f"172.30.9.{10 + i}",
            "podplay_node_pod_cidr": f"10.244.{i}.0/24",
        }
        for i in (1, 2, 3)
    }
    inventory.write_text(yaml.safe_dump({"all": {"children": {"nodes": {"hosts": hosts}}}}))

    def found(name: str) -> Cluster:
        nodes = tuple(
            Node(n, f"hello-{n}", f"172.30.9.{10 + i}", f"10.244.{i}.0/24", i, state)
            for i, (n, state) in enumerate(states.items(), start=1)
        )
        return Cluster(name, nodes, "podplay-hello", "172.30.9.0/24", inventory, tmp_path / "k")

    monkeypatch.setattr(substrate, "get_cluster", found)
    return states


def test_a_stopped_node_container_makes_its_node_not_ready(local_cluster: dict) -> None:
    t = local_target("hello", 3)
    assert t.exists and [n.node for n in t.not_ready] == ["node2"]
    [why] = t.not_ready
    assert str(why) == "node2 is NotReady (its container hello-node2 is not running (exited))"
    assert why.unreachable and why.container == "hello-node2"
    assert t.facts is not None
    assert [(n.name, n.ready) for n in t.facts.nodes] == [
        ("node1", True), ("node2", False), ("node3", True),
    ]  # fmt: skip
    check_some_ready(t)  # two are running: planning goes on


def test_with_every_node_stopped_the_message_names_each_container(local_cluster: dict) -> None:
    local_cluster.update(node1="exited", node3="created")
    with pytest.raises(EnvironmentProblem) as err:
        check_some_ready(local_target("hello", 3))
    message = str(err.value)
    assert message.startswith("no node of cluster hello is ready: node1 is NotReady")
    assert "start them (docker start hello-node1 hello-node2 hello-node3)" in message
    assert message.endswith("or delete the cluster (podplay cluster delete hello)")


def test_not_ready_nodes_of_a_cluster_the_program_lists_get_facts() -> None:
    t = Target("edge", False, True, 2)
    marked = t.with_not_ready([NotReady("b", "its lease in the store expired")], ["a", "b"])
    assert marked.facts is not None
    assert [(n.name, n.ready) for n in marked.facts.nodes] == [("a", True), ("b", False)]
    assert marked.with_not_ready([NotReady("b", "again")]) is marked  # known once


# -- which nodes Ansible runs on ------------------------------------------------------------


def test_unreachable_asks_only_not_ready_nodes_not_known_to_be_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[list[str]] = []

    def run_on(nodes: list, command: str, timeout: float = 10) -> list[Answer]:
        asked.append([n.name for n in nodes])
        rcs = {"node3": 0}
        return [Answer(n.name, rcs.get(n.name, 255), "", "ssh: timed out") for n in nodes]

    monkeypatch.setattr(nodeshell, "run_on", run_on)
    plan = shop_plan()
    said = Said()
    stopped = NotReady("node1", "its container shop-node1 is not running (exited)", True)
    leases = [NotReady("node2", "its lease in the store expired"), NotReady("node3", "lease")]
    skipped = workspace.unreachable([stopped, *leases], plan.nodes, said)
    assert asked == [["node2", "node3"]]  # node1's container is stopped: nothing to ask
    assert sorted(skipped) == ["node1", "node2"]  # node3 answers: Ansible repairs it
    assert said.lines == [
        "node1 is NotReady (its container shop-node1 is not running (exited)): left out of "
        "ansible-playbook and of every wait",
        "node2 is NotReady (its lease in the store expired; ssh: timed out): left out of "
        "ansible-playbook and of every wait",
    ]
    assert workspace.reachable_hosts(plan.nodes, skipped) == ["node3"]
    assert workspace.reachable_hosts(plan.nodes, {}) is None
    everyone = {n.name: NotReady(n.name, "gone", True) for n in plan.nodes}
    with pytest.raises(EnvironmentProblem, match="no node can be reached: node1 is NotReady"):
        workspace.reachable_hosts(plan.nodes, everyone)


def test_the_workspace_runs_playbooks_limited_to_its_hosts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []

    def run_playbook(playbook: Path, inventory: Path, **kwargs: Any) -> PlaybookResult:
        calls.append(kwargs)
        return PlaybookResult(rc=0, hosts={"node1": HostStats(ok=1)})

    monkeypatch.setattr(workspace, "run_playbook", run_playbook)
    ws = workspace.Workspace(tmp_path, RenderOptions(collections_path=str(tmp_path)))
    ws.run("site.yml")
    ws.limit = ["node1", "node3"]
    ws.run("site.yml")
    assert [c["limit"] for c in calls] == [None, "node1,node3"]


def test_begin_leaves_the_stopped_node_out_and_the_probe_asks_only_ready_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_control_steps import IMAGES, FakeWorkspace, prepared

    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    monkeypatch.setattr(up.Workspace, "for_target", classmethod(lambda cls, *a: FakeWorkspace()))
    monkeypatch.setattr(nodeshell, "run_on", lambda nodes, cmd, timeout=10: [])
    stopped = NotReady("node2", "its container shop-node2 is not running (exited)", True)
    t = Target("shop", True, True, 3, down_facts("node2"), not_ready=(stopped,))
    desired = down(shop_plan(), "node2")
    state = StackState(tmp_path / "s")
    said = Said()
    with state.lock("test"):
        run = up.begin(prepared(state, desired), up.Start(desired, None), t, IMAGES, said)
    assert run.workspace.limit == ["node1", "node3"]
    assert list(run.skipped) == ["node2"] and said.lines[0].startswith("node2 is NotReady")
    agents = tuple(NodeEndpoint(f"node{i}", f"172.30.9.{10 + i}") for i in (1, 2, 3))
    full = Probe(access=ClusterAccess("shop", agents, "t"))
    monkeypatch.setattr(up_run, "probe_cluster", lambda inventory, cluster: full)
    assert [n.name for n in run.probe().access.nodes] == ["node1", "node3"]  # type: ignore[union-attr]


def test_waiting_never_asks_a_not_ready_nodes_proxy() -> None:
    plan = down(shop_plan(), "node2")
    asked: list[list[str]] = []

    def proxies(p: Plan) -> dict[str, dict[str, Any] | None]:
        asked.append([n.name for n in p.ready_nodes()])
        routed = sorted(f"{e.namespace}/{e.pod}@{e.ip}" for s in p.services for e in s.endpoints)
        return {n.name: {"ready_endpoints": routed} for n in p.ready_nodes()}  # node2: nothing

    def pods() -> tuple[list[dict[str, Any]], list[str]]:
        return [
            {"name": p.name, "namespace": p.namespace, "node": p.node, "ip": p.ip,
             "phase": "Running", "ready": True}
            for p in plan.pods
        ], []  # fmt: skip

    probe = Probe(access=None, pods=pods, proxies=proxies, sleep=lambda s: None)
    rows = wait_available(plan, probe, Said(), title="t", timeout=1)
    assert all(r.available for r in rows) and asked == [["node1", "node3"]]


# -- destroy with a node that does not answer --------------------------------------------------


def test_destroy_cleans_the_nodes_it_reaches_and_keeps_the_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    runs: list[tuple[str, list[str] | None]] = []

    def run(self: workspace.Workspace, book: str, **_: Any) -> PlaybookResult:
        runs.append((book, self.limit))
        return PlaybookResult(rc=0, hosts={h: HostStats(ok=1) for h in self.limit or ["all"]})

    monkeypatch.setattr(workspace.Workspace, "run", run)
    monkeypatch.setattr(
        workspace, "render_options", lambda *a, **k: RenderOptions(collections_path=str(tmp_path))
    )
    monkeypatch.setattr(destroy, "ensure_pause_image", lambda: None)
    probes: list[Probe] = []
    agents = tuple(NodeEndpoint(f"node{i}", f"172.30.9.{10 + i}") for i in (1, 2, 3))
    monkeypatch.setattr(
        destroy, "probe_cluster", lambda *a: Probe(access=ClusterAccess("shop", agents, "t"))
    )
    monkeypatch.setattr(destroy, "wait_no_pods", lambda probe, *a: probes.append(probe))
    monkeypatch.setattr(
        nodeshell,
        "run_on",
        lambda nodes, cmd, timeout=10: [
            Answer(n.name, 255 if n.name == "node2" else 0, "", "Connection timed out")
            for n in nodes
        ],
    )
    t = Target("shop", False, True, 3, facts())
    state = StackState(tmp_path / "s")
    state.commit(shop_plan().model_dump(mode="json"), {})
    said = Said()
    done = destroy.destroy("app.py", t, state, shop_plan(), keep_cluster=False, reporter=said)
    assert [book for book, _ in runs] == ["stage.yml", "teardown.yml"]
    assert {tuple(limit or ()) for _, limit in runs} == {("node1", "node3")}
    assert [n.name for n in probes[0].access.nodes] == ["node1", "node3"]  # type: ignore[union-attr]
    assert not done.complete and list(done.skipped) == ["node2"]
    assert "it does not answer over SSH; Connection timed out" in said.lines[0]
    assert state.applied_plan() is not None  # kept: destroy again once node2 is back


LOCAL = """\
import podplay as pp

pp.Cluster("hello", nodes=3)
pp.Deployment("web", replicas=3, containers=[pp.Container("web", image="busybox")])
"""


def test_preview_with_a_node_stopped_plans_around_it(
    local_cluster: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from podplay.cli.main import main

    program = tmp_path / "app.py"
    program.write_text(LOCAL)
    assert main(["preview", str(program), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["not_ready"] == [
        {"node": "node2", "why": "its container hello-node2 is not running (exited)"}
    ]
    pods = [c for c in doc["changes"] if c["kind"] == "Pod"]
    assert len(pods) == 3 and not [c for c in pods if "node node2" in c["fields"]]


def test_destroy_deletes_a_local_cluster_whose_nodes_are_all_stopped(
    local_cluster: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from podplay.cli.main import main

    local_cluster.update(node1="exited", node3="exited")
    deleted: list[str] = []
    monkeypatch.setattr(substrate, "delete_cluster", lambda name: deleted.append(name) or True)
    program = tmp_path / "app.py"
    program.write_text(LOCAL)
    assert main(["up", str(program), "-y"]) == 1  # nothing to run on: said, with the fix
    assert "start them (docker start hello-node1 hello-node2 hello-node3)" in (
        capsys.readouterr().err
    )
    assert main(["destroy", str(program), "-y"]) == 0
    assert deleted == ["hello"]
    assert "Destroyed: local cluster hello deleted" in capsys.readouterr().out
