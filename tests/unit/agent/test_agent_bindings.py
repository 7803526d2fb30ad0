"""The agent follows the store's binding table once it has read it and the table is
complete: pods bound here run, pods moved elsewhere stop (an event says where they went) and
are never reported ready, whatever the manifest files say; before that, the files rule."""

from __future__ import annotations

import json
from pathlib import Path

from agent_builders import manifest
from fake_runtime import FakeRuntime
from test_agent_loop import IMAGES, Clock, Inline, status, write

from podplay.node.agent.agent import Agent
from podplay.node.agent.bindings import MOVED_AWAY, BoundPods
from podplay.node.agent.config import parse_config
from podplay.node.agent.manifest import InvalidPod, PodSpec
from podplay.node.agent.messages import BindingsChanged, EngineChanged, ManifestsChanged
from podplay.node.contract.store import Binding, Table
from podplay.node.store import keys
from podplay.node.store.mirror import View
from podplay.node.store.wire import KeyValue

CLUSTER = "shop"


def doc(name: str, ip: str) -> dict:
    d = manifest(name=name, ip=ip, uid=f"uid-{name}")
    d["containers"][0]["readiness"] = None
    return d


def kvs(*bindings: Binding, table: bool = True, rev: int = 1) -> dict[str, KeyValue]:
    out = {}
    for b in bindings:
        key = keys.binding_key(CLUSTER, b.namespace, b.name)
        out[key] = KeyValue(key, b.to_text().encode(), rev, rev, 1)
    if table:
        key = keys.table_key(CLUSTER)
        out[key] = KeyValue(key, Table(1, "s", 3.0, 0.0).to_text().encode(), rev, rev, 1)
    return out


def bound(node: str, name: str, ip: str) -> Binding:
    return Binding.for_pod(node, doc(name, ip), {})


def test_bound_pods_are_this_nodes_bindings_once_the_table_exists() -> None:
    pods = BoundPods("node1", "10.244.1.0/24")
    here, there = bound("node1", "web-1", "10.244.1.5"), bound("node2", "web-2", "10.244.2.5")
    pods.update(kvs(here, there, table=False), synced=True)
    assert not pods.active  # no table yet: the files rule
    pods.update(kvs(here, there), synced=True)
    assert pods.active and list(pods.pods) == [("default", "web-1")]
    assert isinstance(pods.pods[("default", "web-1")], PodSpec)
    assert list(pods.elsewhere) == [("default", "web-2")]
    pods.update(kvs(here, there), synced=False)
    assert not pods.active  # not read since start: the files rule


def test_a_binding_whose_manifest_does_not_fit_this_node_is_a_failed_pod() -> None:
    pods = BoundPods("node1", "10.244.1.0/24")
    pods.update(kvs(bound("node1", "web-1", "10.244.7.5")), synced=True)
    failed = pods.pods[("default", "web-1")]
    assert isinstance(failed, InvalidPod) and failed.reason == "IPOutsidePodCIDR"


def test_a_pod_moved_away_is_named_with_where_it_went() -> None:
    pods = BoundPods("node1", "10.244.1.0/24")
    before = bound("node1", "web-1", "10.244.1.5")
    pods.update(kvs(before), synced=True)
    wanted = dict(pods.pods)
    moved = before.moved_to("node3", "10.244.3.9", 1.0, "node node1 NotReady for 3.0s")
    pods.update(kvs(moved, rev=2), synced=True)
    [(key, message)] = pods.moved_away(wanted)
    assert key == ("default", "web-1") and pods.pods == {}
    assert "bound to node3 now (moved by the controller (node node1 NotReady" in message


class FakeLink:
    """What the agent needs of its StoreLink: a start and a mirror's view."""

    def __init__(self) -> None:
        self.view_now = View(0, {}, False)

    def start(self, stop) -> None:  # type: ignore[no-untyped-def]
        pass

    def view(self) -> View:
        return self.view_now


def agent_on(tmp_path: Path, link: FakeLink) -> tuple[Agent, FakeRuntime, Path]:
    clock = Clock()
    rt = FakeRuntime(clock, IMAGES)
    cfg = parse_config({
        "node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
        "pause_image": "podplay/pause:1", "pods_dir": str(tmp_path / "pods"),
        "state_dir": str(tmp_path / "state"),
    })  # fmt: skip
    (tmp_path / "pods").mkdir()
    agent = Agent(cfg, runtime=rt, clock=clock)
    agent.actuator.workers = agent.actuator.stoppers = Inline()
    agent.probing.pool = Inline()
    agent.attach_store(link)  # type: ignore[arg-type]
    return agent, rt, tmp_path / "pods"


def pump(agent: Agent, bindings: bool = False) -> None:
    for _ in range(4):
        agent.post(ManifestsChanged())
        agent.post(EngineChanged(images=True))
        if bindings:
            agent.post(BindingsChanged())
        while not agent.inbox.empty():
            agent._handle(agent.inbox.get_nowait())
        agent.step()
        while not agent.inbox.empty():
            agent._handle(agent.inbox.get_nowait())


def test_the_agent_runs_the_files_until_the_table_is_read_then_the_table(tmp_path: Path) -> None:
    link = FakeLink()
    agent, rt, pods = agent_on(tmp_path, link)
    write(pods, doc("web-1", "10.244.1.5"))
    pump(agent)
    assert status(agent, "web-1")["ready"]  # from the file: the store was not read yet
    moved = bound("node1", "web-1", "10.244.1.5").moved_to("node2", "10.244.2.9", 1.0, "gone")
    link.view_now = View(3, kvs(moved, bound("node1", "web-2", "10.244.1.6")), True)
    pump(agent, bindings=True)
    assert status(agent, "web-2")["ready"]
    assert not any(p["name"] == "web-1" and p["ready"] for p in agent.board.snapshot()[1])
    assert ("sandbox", "web-2", 0) in rt.calls
    assert not [o for o in rt.list_observed() if o.pod == "web-1" and o.running]
    reasons = [(e["pod"], e["reason"]) for e in agent.events.list()]
    assert ("web-1", MOVED_AWAY) in reasons
    # the file still lists web-1 (written before the move): the store wins
    assert (pods / "default_web-1.json").exists()
    assert json.loads((pods / "default_web-1.json").read_text())["name"] == "web-1"


def test_a_pod_bound_here_starts_on_the_bindings_news_alone(tmp_path: Path) -> None:
    link = FakeLink()
    agent, rt, _ = agent_on(tmp_path, link)
    link.view_now = View(2, kvs(bound("node1", "web-9", "10.244.1.9")), True)
    agent.post(BindingsChanged())
    agent.post(EngineChanged(images=True))
    while not agent.inbox.empty():
        agent._handle(agent.inbox.get_nowait())
    agent.step()
    assert ("sandbox", "web-9", 0) in rt.calls
