"""A burst of new pods (issue 11 item 4): the workers report the containers they started, the
loop takes them into its view without listing the engine again and probes each new
container in the very next pass; the runtime remembers what it started (no inspect per new
container, its own `start` events are no news)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from agent_builders import manifest, spec
from fake_runtime import FakeRuntime
from test_agent_loop import IMAGES, Inline

from podplay.node.agent.actuator import Actuator
from podplay.node.agent.agent import Agent
from podplay.node.agent.board import EventLog
from podplay.node.agent.config import parse_config
from podplay.node.agent.engine import EngineView, _news
from podplay.node.agent.messages import ActionsDone, ManifestsChanged
from podplay.node.agent.observed import L_POD
from podplay.node.agent.podnet import PodNetworkError
from podplay.node.agent.reconcile import RemoveContainers, StartContainer, StartPod
from podplay.node.agent.runtime import DockerRuntime, RuntimeError_


class Counting(FakeRuntime):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.lists = 0

    def list_observed(self, fresh=()):
        self.lists += 1
        return super().list_observed(fresh)


class Pool:
    """Holds submitted probes (they never come back here): what was probed, and when."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, fn, cid, *args):
        self.submitted.append(cid)
        return Future()

    def shutdown(self, wait=True):
        pass


def test_a_burst_is_started_and_probed_without_listing_the_engine_per_pod(tmp_path: Path):
    t = [1000.0]
    rt = Counting(lambda: t[0], IMAGES)
    pods = tmp_path / "pods"
    pods.mkdir()
    cfg = parse_config({"node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
                        "pause_image": "podplay/pause:1", "pods_dir": str(pods),
                        "state_dir": str(tmp_path / "state")})  # fmt: skip
    for i in range(10):
        doc = manifest(name=f"web-{i}", ip=f"10.244.1.{10 + i}")
        doc["containers"][0]["readiness"] = {"type": "http", "port": 8080, "path": "/",
                                             "period": 10}  # fmt: skip
        (pods / f"default_web-{i}.json").write_text(json.dumps(doc))
    agent = Agent(cfg, runtime=rt, clock=lambda: t[0], shutting_down=lambda: False)
    agent.actuator.workers = agent.actuator.stoppers = Inline()
    agent.probing.pool = pool = Pool()
    agent.post(ManifestsChanged())
    agent._handle(agent.inbox.get_nowait())
    agent.step()  # reads the manifests, lists the engine once, starts all ten (inline)
    assert rt.lists == 1 and len(rt.calls) == 20
    assert pool.submitted == []  # nothing seen running yet
    while not agent.inbox.empty():  # the ten ActionsDone, each with what it started
        agent._handle(agent.inbox.get_nowait())
    agent.step()
    assert rt.lists == 1  # the view took the new containers as reported
    apps = sorted(o.id for o in rt.containers.values() if not o.is_sandbox)
    assert sorted(pool.submitted) == apps  # each new app container probed in this pass
    assert [p["phase"] for p in agent.board.snapshot()[1]] == ["Running"] * 10


def test_a_batch_that_stops_or_removes_anything_makes_the_loop_look_again() -> None:
    t = [1000.0]
    rt = FakeRuntime(lambda: t[0], {})
    posted: list[ActionsDone] = []
    act = Actuator(rt, EventLog(), posted.append, lambda: t[0], workers=1)
    act.workers = act.stoppers = Inline()  # type: ignore[assignment]
    web = spec()
    act.dispatch([StartPod(web.key, web, 0, (("web", 0),))])
    assert len(posted[-1].started) == 2
    sandbox = rt.running("web-1", "POD")
    old = rt.running("web-1", "web")
    rt.exit(old.id, 1)
    restart = StartContainer(web.key, web, web.containers[0], 1, sandbox.id)
    act.dispatch([restart])
    assert [o.attempt for o in posted[-1].started] == [1]  # a plain restart adds one
    act.dispatch([RemoveContainers(web.key, (rt.containers[old.id],)), restart])
    assert posted[-1].started == ()  # something was removed: list again
    replaced = StartPod(web.key, web, 1, (("web", 2),), replaces=tuple(rt.containers.values()))
    act.dispatch([replaced])
    assert posted[-1].started == ()


def test_the_view_takes_started_containers_as_reported() -> None:
    rt = FakeRuntime(lambda: 0.0, {})
    view = EngineView(rt, "podplay", 10.0, lambda: 0.0)  # type: ignore[arg-type]
    view.refresh(full=True)
    web = spec()
    rt.create_sandbox(web, 0)
    new = list(rt.containers.values())
    view.add_started(new)
    assert view.observed == new
    view.add_started(new)  # the same again: not doubled
    assert view.observed == new


def test_the_start_of_a_container_the_agent_started_is_no_news() -> None:
    ev = {"Type": "container", "Action": "start", "Actor": {"ID": "c1", "Attributes": {L_POD: "x"}}}
    assert _news(ev, lambda cid: cid == "c1") is None
    assert _news(ev, lambda cid: False) is not None  # started by someone else: look
    died = {**ev, "Action": "die"}
    assert _news(died, lambda cid: True).died == "c1"  # a death is always news


class FakeAPI:
    """The few Docker API calls a pod start makes, recorded."""

    api_version = "1.41"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[str] = []
        self.created: dict[str, dict] = {}
        self.n = 0

    def create_host_config(self, **kw):
        return kw

    def create_container(self, name, **kw):
        self.calls.append("create")
        self.n += 1
        cid = f"{self.n:064d}"
        (self.root / "containers" / cid).mkdir(parents=True)
        self.created[cid] = kw
        return {"Id": cid}

    def start(self, cid):
        self.calls.append("start")

    def info(self):
        self.calls.append("info")
        return {"DockerRootDir": str(self.root)}

    def networks(self, names):
        self.calls.append("networks")
        return [
            {
                "Name": "podplay",
                "Options": {"com.docker.network.bridge.name": "podplay0"},
                "IPAM": {"Config": [{"Subnet": "10.244.1.0/24", "Gateway": "10.244.1.1"}]},
            }
        ]

    def inspect_container(self, cid):
        self.calls.append("inspect")
        return {"State": {"Pid": 1000 + int(cid)}}


def test_the_runtime_reports_what_it_started_and_inspects_only_sandboxes(tmp_path: Path) -> None:
    api = FakeAPI(tmp_path)
    plugged = []
    rt = DockerRuntime("podplay", "podplay/pause:1", api=api)  # type: ignore[arg-type]
    rt._net._run = lambda args, batch: plugged.append((args, batch[0]))
    rt._net._netns_dir = str(tmp_path / "netns")
    web = spec()
    sid = rt.create_sandbox(web, 0)
    cid = rt.run_container(web, web.containers[0], 0, sid)
    sid2 = rt.create_sandbox(spec(name="web-2", ip="10.244.1.6"), 0)
    # one inspect per sandbox (its namespace), none per app container; the data root and
    # the bridge are looked up once
    assert api.calls.count("inspect") == 2 and api.calls.count("info") == 1
    assert api.calls.count("networks") == 1
    assert api.created[sid]["network_disabled"] is True
    assert [b for a, b in plugged if not a] == [
        f"link add pp{sid[:12]} mtu 1500 type veth peer name eth0 mtu 1500"
        f" address 02:42:0a:f4:01:05 netns {1000 + int(sid)}",
        f"link add pp{sid2[:12]} mtu 1500 type veth peer name eth0 mtu 1500"
        f" address 02:42:0a:f4:01:06 netns {1000 + int(sid2)}",
    ]
    resolv = (tmp_path / "containers" / sid / "podplay-resolv.conf").read_text()
    assert "nameserver 10.96.0.10" in resolv
    assert api.created[cid]["host_config"]["binds"] == [
        f"{tmp_path}/containers/{sid}/podplay-hosts:/etc/hosts",
        f"{tmp_path}/containers/{sid}/podplay-resolv.conf:/etc/resolv.conf",
    ]
    o = rt.started(cid)
    assert o is not None and (o.pod, o.container, o.attempt, o.state) == ("web-1", "web", 0,
                                                                          "running")  # fmt: skip
    assert o.config_hash == web.containers[0].config_hash and o.image == "podplay/web:1"
    assert rt.started(cid) is None  # reported once
    assert rt.started_here(sid) and rt.started_here(sid2) and not rt.started_here("other")
    assert not rt.started_here(sid)  # one start, one event: a later start is news


def test_a_sandbox_that_cannot_be_plugged_in_is_removed_and_says_why(tmp_path: Path) -> None:
    api = FakeAPI(tmp_path)
    removed = []
    api.remove_container = lambda cid, force: removed.append(cid)  # type: ignore[attr-defined]
    rt = DockerRuntime("podplay", "podplay/pause:1", api=api)  # type: ignore[arg-type]

    def refuse(args, batch):
        raise PodNetworkError('Cannot find device "podplay0"')

    rt._net._run = refuse
    with pytest.raises(RuntimeError_, match="podplay0") as caught:
        rt.create_sandbox(spec(), 0)
    assert caught.value.reason == "CreatePodSandboxError"
    assert removed == [f"{1:064d}"]
    assert rt.started(f"{1:064d}") is None and not rt.started_here(f"{1:064d}")


class ListingAPI:
    """A listing of podplay containers the runtime has never seen (an agent restart)."""

    def __init__(self, n: int) -> None:
        self.summaries = [
            {"Id": f"c{i}", "State": "running", "Names": [f"/pp_default_web-{i}_web_u_0"],
             "Image": "podplay/web:1",
             "Labels": {"io.podplay.pod": f"web-{i}", "io.podplay.namespace": "default",
                        "io.podplay.container": "web", "io.podplay.uid": "u",
                        "io.podplay.attempt": "0"}}
            for i in range(n)
        ]  # fmt: skip
        self.inspected: list[str] = []
        self.active = self.peak = 0
        self.lock = threading.Lock()

    def containers(self, **kw):
        return self.summaries

    def inspect_container(self, cid):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.05)
        with self.lock:
            self.active -= 1
            self.inspected.append(cid)
        return {"State": {"Status": "running", "StartedAt": "2026-11-25T15:00:00.5Z"}}


def test_containers_seen_for_the_first_time_are_inspected_in_parallel_once() -> None:
    api = ListingAPI(16)
    rt = DockerRuntime("podplay", "podplay/pause:1", api=api)  # type: ignore[arg-type]
    started = time.monotonic()
    seen = rt.list_observed()
    assert time.monotonic() - started < 16 * 0.05 / 2  # not one after another
    assert api.peak > 1 and sorted(api.inspected) == sorted(f"c{i}" for i in range(16))
    assert [o.pod for o in seen] == [f"web-{i}" for i in range(16)]
    assert all(o.running and o.started_at == 1795618800.5 for o in seen)
    rt.list_observed()
    assert len(api.inspected) == 16  # known in their state: not inspected again


class AdoptingAPI:
    """After an agent restart: two running sandboxes the agent networks itself, one with its
    veth pair and one without (the agent stopped between starting and plugging it in), and
    one of an older agent (an endpoint of the engine's network, no files)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.killed: list[str] = []
        self.summaries = []
        for cid, files in (("a" * 64, True), ("b" * 64, True), ("c" * 64, False)):
            (root / "containers" / cid).mkdir(parents=True)
            if files:
                (root / "containers" / cid / "podplay-hosts").write_text("")
            self.summaries.append(
                {"Id": cid, "State": "running", "Names": [f"/pp_default_{cid[0]}_POD_u_0"],
                 "Labels": {"io.podplay.pod": cid[0], "io.podplay.namespace": "default",
                            "io.podplay.container": "POD", "io.podplay.uid": "u",
                            "io.podplay.attempt": "0"}}
            )  # fmt: skip

    def containers(self, **kw):
        return self.summaries

    def inspect_container(self, cid):
        return {"State": {"Status": "running", "StartedAt": "2026-11-25T15:00:00.5Z"}}

    def info(self):
        return {"DockerRootDir": str(self.root)}

    def kill(self, cid):
        self.killed.append(cid)


def test_a_sandbox_left_without_its_network_is_killed_once(tmp_path: Path, monkeypatch) -> None:
    sys_net = tmp_path / "sys-class-net"
    (sys_net / ("pp" + "a" * 12)).mkdir(parents=True)
    monkeypatch.setattr("podplay.node.agent.podnet.SYS_NET", str(sys_net))
    api = AdoptingAPI(tmp_path / "docker")
    rt = DockerRuntime("podplay", "podplay/pause:1", api=api)  # type: ignore[arg-type]
    assert len(rt.list_observed()) == 3
    assert api.killed == ["b" * 64]  # plugged (a) and the older agent's (c) are left alone
    rt.list_observed()
    assert api.killed == ["b" * 64]  # looked at once


def test_every_container_of_a_pod_runs_under_the_configured_oci_runtime(tmp_path: Path) -> None:
    for configured, wanted in (("crun", "crun"), ("", None)):
        api = FakeAPI(tmp_path / (configured or "default"))
        rt = DockerRuntime("podplay", "podplay/pause:1", api=api, oci_runtime=configured)  # type: ignore[arg-type]
        rt._net._run = lambda args, batch: None
        rt._net._netns_dir = str(tmp_path / "netns")
        web = spec()
        sid = rt.create_sandbox(web, 0)
        cid = rt.run_container(web, web.containers[0], 0, sid)
        # None: the SDK leaves Runtime out, and the engine uses its default
        assert api.created[sid]["host_config"]["runtime"] == wanted
        assert api.created[cid]["host_config"]["runtime"] == wanted
