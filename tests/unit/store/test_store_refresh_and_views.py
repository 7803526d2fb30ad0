"""podplay's own reads of the cluster's store, against a fake etcd gateway (no Docker, no SSH):

- `preview`/`up` refresh the applied plan from the store (the controller's moves), so an
  unchanged program plans no pod changes; a node whose lease expired is planned around; a
  store that does not answer (or has lost its quorum) is one warning;
- `get nodes` shows NotReady since when for a node whose lease expired, and one line when
  the store has lost its quorum; `describe` lists the store's events beside the agents';
  `get pods` / `get deployments` show a moved pod on its new node, once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fake_etcd import FakeMember, FakeStore

from podplay import paths
from podplay.artifacts import engine, pki
from podplay.cli.describe import describe
from podplay.cli.get import get as get_cmd
from podplay.cli.main import main
from podplay.control import cluster_view
from podplay.control.cluster_store import StoreAccess
from podplay.control.prepare import Timer, evaluate_program, prepare
from podplay.control.state import StackState, stack_dir
from podplay.errors import EnvironmentProblem
from podplay.node.agent.api import serve
from podplay.node.agent.board import EventLog, StatusBoard
from podplay.node.agent.config import parse_config
from podplay.node.contract.store import Binding, Cursor, Event, NodeLease, NodeStatus, Requests
from podplay.node.store import Store
from podplay.node.store import keys as k
from podplay.plan import Plan, PodPlan

PROGRAM = """\
import podplay as pp

pp.Cluster("edge", nodes=[pp.Node(n, address=f"10.1.0.{i}") for i, n in enumerate("abc", 1)])
web = pp.Deployment("web", replicas=3, containers=[
    pp.Container("web", image="busybox", ports=[8080])])
pp.Service("web", selector=web, ports=[pp.ServicePort(80, target_port=8080)])
"""


@pytest.fixture
def members(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[FakeMember]]:
    """Three fake members; every store podplay opens talks to them (plain HTTP)."""
    store = FakeStore()
    started = [FakeMember(store, f"m{i}").start() for i in (1, 2, 3)]

    def client(self: StoreAccess) -> Store:
        return Store([m.endpoint for m in started], timeout=1.0, connect_timeout=0.3)

    def refuse() -> None:
        raise EnvironmentProblem("no Docker in unit tests")

    monkeypatch.setattr(StoreAccess, "client", client)
    monkeypatch.setattr(engine, "client", refuse)
    monkeypatch.delenv("PODPLAY_HOME", raising=False)
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    yield started
    for member in started:
        member.stop()


def put(members: list[FakeMember], key: str, record: Any) -> None:
    Store([members[0].endpoint]).put(key, record.to_text())


def has_client_certificate(cluster: str) -> None:
    """What `up` leaves on this machine: the cluster's client certificate (content unread)."""
    certs = pki.Pki(pki.pki_dir(cluster))
    certs.directory.mkdir(parents=True, exist_ok=True)
    certs.client_cert.write_text("cert")
    certs.client_key.write_text("key")


def lease(node: str) -> NodeLease:
    return NodeLease(node, "10.1.0.9", "boot", time.time() - 600, "1")


def moved(pod: PodPlan, node: str, ip: str) -> Binding:
    return Binding(
        pod.namespace, pod.name, node, ip, pod.deployment, pod.template_hash, {}, Requests(),
        {**pod.manifest, "ip": ip}, "controller", pod.node, time.time() - 20,
        f"node {pod.node} NotReady for 3 s",
    )  # fmt: skip


def applied(tmp_path: Path) -> tuple[Path, Plan]:
    """The program, applied (its plan committed as an up would)."""
    path = tmp_path / "app.py"
    path.write_text(PROGRAM)
    state = StackState(stack_dir(path, "edge"))
    prep = prepare(str(path), evaluate_program(str(path), Timer()), state, build=False)
    state.commit(prep.plan.model_dump(mode="json"), {})
    has_client_certificate("edge")
    return path, prep.plan


def free_ip(plan: Plan, node: str) -> str:
    held = {p.ip for p in plan.pods}
    cidr = next(n.pod_cidr for n in plan.nodes if n.name == node)
    return next(ip for i in range(20, 250) if (ip := cidr.replace(".0/24", f".{i}")) not in held)


# -- up / preview: refresh -----------------------------------------------------------------


def test_preview_of_the_unchanged_program_shows_the_moved_pod_and_no_pod_changes(
    members: list[FakeMember], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, plan = applied(tmp_path)
    victim = next(p for p in plan.pods if p.node == "b")
    ip = free_ip(plan, "c")
    for node in "abc":
        put(members, k.node_key("edge", node), lease(node))
    put(members, k.binding_key("edge", "default", victim.name), moved(victim, "c", ip))
    put(members, k.cursor_key("edge", "c"), Cursor(ip, plan.nodes[2].last_pod_ip))

    state = StackState(stack_dir(path, "edge"))
    prep = prepare(str(path), evaluate_program(str(path), Timer()), state, build=False)
    assert prep.changes == [] and prep.target.not_ready == ()
    [move] = prep.moves
    assert (move.name, move.from_node, move.to_node, move.ip) == (victim.name, "b", "c", ip)
    now = next(p for p in prep.plan.pods if p.name == victim.name)
    assert (now.node, now.ip) == ("c", ip)
    assert prep.plan.nodes[2].last_pod_ip == ip

    assert main(["preview", str(path), "--expect-no-changes"]) == 0
    out = capsys.readouterr().out
    assert f"refreshed: pod default/{victim.name} moved from b to c, ip {ip}" in out
    assert "Resources: no changes" in out
    assert main(["preview", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["moved"] == [{"namespace": "default", "name": victim.name, "from": "b", "to": "c",
                             "ip": ip, "reason": "node b NotReady for 3 s"}]  # fmt: skip


def test_a_node_whose_lease_expired_is_planned_around(
    members: list[FakeMember], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, plan = applied(tmp_path)
    for node in "ac":
        put(members, k.node_key("edge", node), lease(node))
    put(members, k.status_key("edge", "b"), NodeStatus("b", False, time.time() - 35, "", ""))
    assert main(["preview", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [(node, why)] = [(n["node"], n["why"]) for n in doc["not_ready"]]
    expired = r"its lease in the store expired (3[5-9]|[4-9][0-9]) s ago"  # a slow preview: 40+
    assert node == "b" and re.fullmatch(expired, why)
    stranded = next(p.name for p in plan.pods if p.node == "b")
    removed = next(c for c in doc["changes"] if c["op"] == "-")
    assert removed["name"] == stranded and removed["fields"][0] == "node b NotReady"
    assert {c["kind"] for c in doc["changes"] if c["op"] == "~"} == {"Node"}
    assert main(["preview", str(path)]) == 0
    assert f"b is NotReady ({why}): its pods are planned on Ready nodes" in capsys.readouterr().out


def test_no_lease_at_all_says_nothing_about_readiness(
    members: list[FakeMember], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Agents of a podplay that keeps no lease (or a store just made): no node is NotReady."""
    path, _plan = applied(tmp_path)
    assert main(["preview", str(path), "--expect-no-changes"]) == 0
    assert "NotReady" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("stopped", "the store does not answer (none of its 3 members is reachable)"),
        ("no leader", "the store has lost its quorum (3 of 3 members answer, no leader)"),
    ],
)
def test_a_store_that_cannot_be_read_is_one_warning_and_the_plan_comes_from_the_state(
    members: list[FakeMember],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    how: str,
    said: str,
) -> None:
    path, plan = applied(tmp_path)
    victim = plan.pods[0]
    put(members, k.binding_key("edge", "default", victim.name), moved(victim, "c", "10.244.3.99"))
    for m in members:
        if how == "stopped":
            m.stop()
        else:
            m.unavailable = True
    assert main(["preview", str(path), "--expect-no-changes"]) == 0
    captured = capsys.readouterr()
    [warning] = captured.err.strip().splitlines()
    assert warning == (
        f"warning: {said}: planning from the stack's state (pods the cluster's controller "
        "moved and nodes whose lease expired are not known)"
    )
    assert "refreshed" not in captured.out


# -- get / describe ----------------------------------------------------------------------------

TOKEN = "s3cret"


def status(pod: PodPlan, node: str, ip: str) -> dict[str, Any]:
    return {
        "name": pod.name, "namespace": pod.namespace, "uid": "u", "labels": {"app": "web"},
        "ip": ip, "phase": "Running", "ready": True, "reason": None, "message": None,
        "started_at": "2026-11-25T15:00:00Z", "template_hash": pod.template_hash,
        "containers": [{"name": "web", "container_id": "abc", "image": "busybox",
                        "state": "running", "reason": None, "message": None, "ready": True,
                        "restart_count": 0, "started_at": "2026-11-25T15:00:00Z",
                        "last_termination": None, "exit_code": None, "finished_at": None}],
    }  # fmt: skip


@pytest.fixture
def shop(
    members: list[FakeMember], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_pki
) -> Iterator[dict[str, Any]]:
    """Cluster shop: node1's agent answers (it runs both pods of `web`: web's node2 pod was
    moved there by the controller); node2 is down (no lease, NotReady since 35 s)."""
    import podplay as pp
    from podplay.dsl import Stack
    from podplay.plan import plan as make_plan

    with Stack(program="app.py") as stack:
        pp.Cluster("shop", nodes=2)
        pp.Deployment("web", replicas=2, containers=[pp.Container("web", image="busybox")])
    p = make_plan(stack, None, None, {})
    (tmp_path / "plan.json").write_text(p.to_json())
    kept = next(x for x in p.pods if x.node == "node1")
    victim = next(x for x in p.pods if x.node == "node2")
    ip = "10.244.1.9"
    cfg = parse_config({"node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
                        "api_port": 0, **cluster_pki.agent_fields()})  # fmt: skip
    board, events = StatusBoard(), EventLog()
    board.publish([status(kept, "node1", kept.ip), status(victim, "node1", ip)], True, "")
    events.record("default", victim.name, "Normal", "Started", "container web started")
    srv = serve(cfg, board, events, TOKEN)
    put(members, k.node_key("shop", "node1"), lease("node1"))
    since = time.time() - 35
    put(members, k.status_key("shop", "node2"), NodeStatus("node2", False, since, "", ""))
    put(members, k.binding_key("shop", "default", victim.name), moved(victim, "node1", ip))
    for kind, name, reason, message, ms in [
        ("Node", "node2", "NodeNotReady", "node node2 NotReady: its lease expired", 1),
        ("Pod", victim.name, "Rescheduled", f"pod {victim.name} moved from node2 to node1", 2),
        ("Deployment", "web", "Rescheduled", f"pod {victim.name} moved from node2 to node1", 2),
        ("Pod", kept.name, "Noted", "about the other pod", 3),
    ]:
        event = Event(since + ms, "Normal", reason, message, kind,
                      "" if kind == "Node" else "default", name, "", "controller")  # fmt: skip
        put(members, k.event_key("shop", int((since + ms) * 1000), f"{kind}{ms}"), event)
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump({"all": {
        "vars": {"podplay_cluster_name": "shop", "podplay_agent_token_file": str(token),
                 "podplay_pki_dir": str(cluster_pki.directory),
                 "podplay_agent_api_port": srv.server_address[1],
                 "podplay_nodes": [{"name": "node1", "address": "127.0.0.1",
                                    "pod_cidr": "10.244.1.0/24"},
                                   {"name": "node2", "address": "127.0.0.1",
                                    "pod_cidr": "10.244.2.0/24", "api_port": 1}]},
        "children": {"nodes": {"hosts": {"node1": {}, "node2": {}}}},
    }}))  # fmt: skip
    access = StoreAccess("shop", ("https://unused:2379",), tmp_path)
    monkeypatch.setattr(cluster_view, "store_access", lambda *a: access)
    yield {"inv": str(inv), "victim": victim, "kept": kept, "ip": ip, "members": members}
    srv.shutdown()
    srv.server_close()


def test_get_nodes_shows_not_ready_since_when_from_the_store(shop: dict[str, Any]) -> None:
    out = CliRunner().invoke(get_cmd, ["nodes", "-i", shop["inv"]])
    assert out.exit_code == 0, out.output
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows[0] == ["NAME", "STATUS", "ADDRESS", "POD", "CIDR", "CONTAINER", "SINCE"]
    assert rows[1][:2] == ["node1", "Ready"] and rows[1][-1] in ("10m0s", "10m")
    assert rows[2][:2] == ["node2", "NotReady"] and re.fullmatch(r"3[5-9]s", rows[2][-1])
    doc = json.loads(CliRunner().invoke(get_cmd, ["nodes", "-i", shop["inv"], "-o", "json"]).stdout)
    node2 = doc["nodes"][1]
    assert (node2["ready"], node2["lease"]) == (False, False) and node2["since"] > 0
    assert node2["message"].startswith("its lease in the store expired: the control plane")
    assert "agent: node node2: agent at" in node2["message"]
    assert doc["store"] == {"reachable": True, "message": None}


def test_a_node_whose_agent_answers_but_whose_lease_expired_is_not_ready(
    shop: dict[str, Any],
) -> None:
    Store([shop["members"][0].endpoint]).delete(k.node_key("shop", "node1"))
    put(shop["members"], k.node_key("shop", "node2"), lease("node2"))
    doc = json.loads(CliRunner().invoke(get_cmd, ["nodes", "-i", shop["inv"], "-o", "json"]).stdout)
    node1 = doc["nodes"][0]
    assert (node1["ready"], node1["lease"]) == (False, False)
    said = "its lease in the store expired: the control plane counts it NotReady"
    assert node1["message"] == said


def test_get_nodes_says_in_one_line_when_the_store_lost_its_quorum(shop: dict[str, Any]) -> None:
    for m in shop["members"]:
        m.unavailable = True
    out = CliRunner().invoke(get_cmd, ["nodes", "-i", shop["inv"]])
    assert out.exit_code == 0, out.output
    assert out.stderr.strip().splitlines() == [
        "warning: the store has lost its quorum (3 of 3 members answer, no leader): nodes are "
        "shown as their agents say"
    ]
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows[0] == ["NAME", "STATUS", "ADDRESS", "POD", "CIDR", "CONTAINER"]  # no SINCE
    assert [r[:2] for r in rows[1:]] == [["node1", "Ready"], ["node2", "NotReady"]]
    doc = json.loads(CliRunner().invoke(get_cmd, ["nodes", "-i", shop["inv"], "-o", "json"]).stdout)
    assert doc["store"]["reachable"] is False and "lost its quorum" in doc["store"]["message"]


def test_describe_node_says_why_and_lists_the_stores_events(shop: dict[str, Any]) -> None:
    out = CliRunner().invoke(describe, ["node", "node2", "-i", shop["inv"]])
    assert out.exit_code == 0, out.output
    fields = dict(line.split(":", 1) for line in out.stdout.splitlines()[:9])
    assert fields["Ready"].strip() == "False"
    assert fields["Message"].strip().startswith("its lease in the store expired: the control")
    assert "s ago)" in fields["Message"] and " since 20" in fields["Message"]
    assert fields["Lease"].strip().startswith("expired (NotReady since 20")
    assert "NodeNotReady   node/node2   node node2 NotReady: its lease expired" in out.stdout


def test_describe_deployment_and_pod_tell_the_move(shop: dict[str, Any]) -> None:
    victim = shop["victim"]
    out = CliRunner().invoke(describe, ["deployment", "web", "-i", shop["inv"]])
    assert out.exit_code == 0, out.output
    assert "2 desired, 2 ready, 2 up to date" in out.stdout  # the moved pod counts, on node1
    lines = out.stdout.splitlines()
    events = lines[lines.index("Events:") + 1 :]
    reasons = [line.split()[2] for line in events[1:]]
    assert reasons[:2] == ["Scheduled", "Scheduled"]
    assert reasons[2:] == ["NodeNotReady", "Rescheduled", "Noted", "Started"]  # oldest first
    scheduled = {line.split()[3]: line for line in events if "Scheduled" in line}
    assert scheduled[victim.name].endswith("assigned to node2 by the plan")
    pods = lines[lines.index("Pods:") + 1 : lines.index("Events:")]
    assert any(victim.name in p and shop["ip"] in p and "node1" in p for p in pods)

    out = CliRunner().invoke(describe, ["pod", victim.name, "-i", shop["inv"]])
    assert out.exit_code == 0, out.output
    assert "Rescheduled" in out.stdout and "NodeNotReady" in out.stdout
    assert "Noted" not in out.stdout  # the other pod's event


def test_get_pods_and_deployments_show_the_moved_pod_on_its_new_node_once(
    shop: dict[str, Any],
) -> None:
    victim = shop["victim"]
    out = CliRunner().invoke(get_cmd, ["pods", "-i", shop["inv"]])
    assert out.exit_code == 0, out.output
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    mine = [r for r in rows if r[1] == victim.name]
    assert mine == [["default", victim.name, "1/1", "Running", "0", shop["ip"], "node1"]]
    assert not [r for r in rows if r[3] == "Unknown"]  # node2 runs nothing now
    out = CliRunner().invoke(get_cmd, ["deployments", "-i", shop["inv"], "-o", "json"])
    doc = json.loads(out.stdout)
    [web] = doc["deployments"]
    assert (web["ready"], web["replicas"]) == (2, 2)
    assert {(p["name"], p["node"]) for p in web["pods"]} >= {(victim.name, "node1")}
