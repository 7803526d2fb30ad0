"""The agent's loop glue, driven step by step against an in-memory engine and a fake clock:
manifests in, actions out, restarts with backoff, adoption by a new agent, status."""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path

import pytest
from agent_builders import manifest
from fake_runtime import FakeRuntime

from podplay.node.agent.agent import Agent
from podplay.node.agent.config import parse_config
from podplay.node.agent.messages import EngineChanged, ManifestsChanged, ProbeResult

IMAGES = {"podplay/web:1": "sha256:aa", "podplay/pause:1": "sha256:pp"}


class Inline:
    """An executor that runs work at once, on the caller's thread."""

    def submit(self, fn, *args):
        f: Future = Future()
        f.set_result(fn(*args))
        return f

    def shutdown(self, wait=True):
        pass


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world(tmp_path: Path):
    clock = Clock()
    rt = FakeRuntime(clock, IMAGES)
    cfg = parse_config({
        "node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
        "pause_image": "podplay/pause:1", "pods_dir": str(tmp_path / "pods"),
        "state_dir": str(tmp_path / "state"),
    })  # fmt: skip
    (tmp_path / "pods").mkdir()
    return clock, rt, cfg, tmp_path / "pods"


def new_agent(world) -> Agent:
    clock, rt, cfg, _ = world
    agent = Agent(cfg, runtime=rt, clock=clock)
    agent.actuator.workers = Inline()
    agent.actuator.stoppers = Inline()
    agent.probing.pool = Inline()
    return agent


def pump(agent: Agent, rounds: int = 4) -> None:
    """Run passes and deliver messages until nothing is left to do. Each round also delivers
    what the manifest watcher and the engine's event stream would have said."""
    for _ in range(rounds):
        agent.post(ManifestsChanged())
        agent.post(EngineChanged(images=True))
        while not agent.inbox.empty():
            agent._handle(agent.inbox.get_nowait())
        agent.step()
        while not agent.inbox.empty():
            agent._handle(agent.inbox.get_nowait())


def write(pods: Path, doc: dict) -> None:
    (pods / f"{doc['namespace']}_{doc['name']}.json").write_text(json.dumps(doc))


def status(agent: Agent, name: str) -> dict:
    return next(p for p in agent.board.snapshot()[1] if p["name"] == name)


def web_doc(**changes) -> dict:
    doc = manifest(**changes)
    doc["containers"][0]["readiness"] = None
    return doc


def test_manifest_to_running_pod(world) -> None:
    _, rt, _, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    assert rt.calls[:2] == [("sandbox", "web-1", 0), ("run", "web-1", "web", 0)]
    s = status(agent, "web-1")
    assert s["phase"] == "Running" and s["ready"]
    assert agent.board.node_ready


def test_crash_restart_then_backoff_then_restart(world) -> None:
    clock, rt, _, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    rt.exit(rt.running("web-1", "web").id, 1)
    pump(agent)  # first crash: at once
    assert rt.calls[-1] == ("run", "web-1", "web", 1)
    clock.t += 1
    rt.exit(rt.running("web-1", "web").id, 1)
    pump(agent)  # second crash: back-off 10 s
    assert ("run", "web-1", "web", 2) not in rt.calls
    c = status(agent, "web-1")["containers"][0]
    assert (c["state"], c["reason"]) == ("waiting", "CrashLoopBackOff")
    assert "back-off 10s" in c["message"]
    clock.t += 9.9
    pump(agent)
    assert ("run", "web-1", "web", 2) not in rt.calls
    clock.t += 0.1
    pump(agent)
    assert ("run", "web-1", "web", 2) in rt.calls
    assert rt.calls[-1] == ("remove", "c0002")  # attempt 0: neither latest nor previous
    assert status(agent, "web-1")["containers"][0]["restart_count"] == 2


def test_a_new_agent_adopts_without_restarting(world) -> None:
    _, rt, _, pods = world
    write(pods, web_doc())
    first = new_agent(world)
    pump(first)
    first.stop("test")
    before = dict(rt.containers)
    calls = len(rt.calls)
    second = new_agent(world)
    assert second.board.snapshot()[1] == []  # the CLI seeds the board; here: fresh
    pump(second)
    assert rt.containers == before and len(rt.calls) == calls
    assert status(second, "web-1")["ready"]


def test_removed_manifest_removes_the_pod(world) -> None:
    _, rt, _, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    (pods / "default_web-1.json").unlink()
    pump(agent)
    assert rt.containers == {}
    assert agent.board.snapshot()[1] == []


def test_bad_manifest_is_reported_and_others_run(world) -> None:
    _, _rt, _, pods = world
    write(pods, web_doc())
    (pods / "default_broken.json").write_text("{nope")
    agent = new_agent(world)
    pump(agent)
    assert status(agent, "broken")["phase"] == "Failed"
    assert status(agent, "broken")["reason"] == "InvalidManifest"
    assert status(agent, "web-1")["ready"]
    assert any(e["reason"] == "InvalidManifest" for e in agent.events.list())


def test_image_arriving_later_admits_the_pod(world) -> None:
    _, rt, _, pods = world
    del rt.image_map["podplay/web:1"]
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    assert status(agent, "web-1")["reason"] == "ImageNotPresent"
    assert rt.calls == []
    rt.image_map["podplay/web:1"] = "sha256:aa"
    pump(agent)
    assert status(agent, "web-1")["phase"] == "Running"


def test_engine_down_keeps_pods_and_reports_node_not_ready(world) -> None:
    _, rt, _, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    rt.up = False
    pump(agent)
    assert not agent.board.node_ready
    assert rt.containers  # nothing was removed
    assert not status(agent, "web-1")["ready"]  # but nothing here is vouched for either
    rt.up = True
    pump(agent)
    assert agent.board.node_ready and status(agent, "web-1")["ready"]


def test_generation_moves_only_on_change(world) -> None:
    _, _, _, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    gen = agent.board.generation
    pump(agent)
    assert agent.board.generation == gen


def test_state_survives_for_the_next_agent(world) -> None:
    _clock, rt, cfg, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    rt.exit(rt.running("web-1", "web").id, 1)
    pump(agent)
    agent._save_state()  # what the agent does when it stops (otherwise at most once a second)
    saved = json.loads((Path(cfg.state_dir) / "agent-state.json").read_text())
    assert saved["streaks"] == {"u1/web": 1}
    assert saved["pods"][0]["name"] == "web-1" and saved["generation"] == agent.board.generation


class Recording(Inline):
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def submit(self, fn, *args):
        self.batches.append([type(a).__name__ for a in args[1]])
        return super().submit(fn, *args)


def test_stopping_pods_never_wait_behind_starting_ones(world) -> None:
    _, _rt, _, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    agent.actuator.workers, agent.actuator.stoppers = Recording(), Recording()
    pump(agent)
    (pods / "default_web-1.json").unlink()
    write(pods, web_doc(name="web-2", ip="10.244.1.6"))
    pump(agent)
    assert agent.actuator.stoppers.batches == [["RemovePod"]]
    assert agent.actuator.workers.batches == [["StartPod"], ["StartPod"]]


def test_backoff_streak_is_remembered_by_the_next_agent(world) -> None:
    _clock, rt, _, pods = world
    write(pods, web_doc())
    first = new_agent(world)
    pump(first)
    rt.exit(rt.running("web-1", "web").id, 1)
    pump(first)  # restarted at once: streak 1
    rt.exit(rt.running("web-1", "web").id, 1)
    first._save_state()  # on stop
    second = new_agent(world)  # reads agent-state.json
    pump(second)
    c = status(second, "web-1")["containers"][0]
    assert c["reason"] == "CrashLoopBackOff" and "back-off 10s" in c["message"]


def test_state_is_written_at_most_once_a_second(world) -> None:
    clock, rt, cfg, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    path = Path(cfg.state_dir) / "agent-state.json"
    first = path.read_text()
    rt.exit(rt.running("web-1", "web").id, 1)
    pump(agent)
    assert path.read_text() == first  # changed, but within the second
    clock.t += 1
    pump(agent)
    assert json.loads(path.read_text())["streaks"] == {"u1/web": 1}


class Held(Inline):
    def submit(self, fn, *args):
        return Future()


def test_unchanged_probe_results_need_no_full_pass(world) -> None:
    _, rt, _, pods = world
    doc = web_doc()
    doc["containers"][0]["readiness"] = {"type": "tcp", "port": 8080, "period": 5}
    write(pods, doc)
    agent = new_agent(world)
    agent.probing.pool = Held()  # probes are not run here; outcomes are fed by hand
    pump(agent)
    cid = rt.running("web-1", "web").id
    spec = agent.probing.probes[cid].trackers["readiness"].spec
    agent._pass_needed = False
    agent._handle(ProbeResult(cid, "readiness", spec, True, "connected"))
    assert agent._pass_needed  # first success: the pod turns ready
    agent.step()
    assert status(agent, "web-1")["ready"]
    agent._handle(ProbeResult(cid, "readiness", spec, True, "connected"))
    assert not agent._pass_needed  # same outcome again: only the next probe to schedule
    agent._handle(ManifestsChanged())
    assert agent._pass_needed


def test_dead_sandbox_restarts_the_pod_and_keeps_the_last_attempt_for_logs(world) -> None:
    clock, rt, _, pods = world
    write(pods, web_doc())
    agent = new_agent(world)
    pump(agent)
    old = rt.running("web-1", "web")
    clock.t += 5
    rt.exit(rt.running("web-1", "POD").id, 137)  # the sandbox dies (or the node restarts)
    pump(agent)
    new = rt.running("web-1", "web")
    assert new.attempt == old.attempt + 1
    assert old.id in rt.containers and not rt.containers[old.id].running  # stopped, kept
    c = status(agent, "web-1")["containers"][0]
    assert c["restart_count"] == 1 and c["last_termination"]["exit_code"] == 143
    previous, why = agent.find_container("default", "web-1", "web", previous=True)
    assert previous is not None and previous.id == old.id, why


def test_a_missed_manifest_event_is_caught_by_the_periodic_resync(world) -> None:
    clock, rt, cfg, pods = world
    agent = new_agent(world)
    agent.step()
    write(pods, web_doc())  # the watcher never says so (a lost inotify event)
    agent.post(EngineChanged(images=False))
    agent._handle(agent.inbox.get_nowait())
    agent.step()
    assert rt.calls == []
    clock.t += cfg.resync_seconds
    agent.step()
    assert ("sandbox", "web-1", 0) in rt.calls


def test_a_newcomer_with_a_running_pods_ip_is_refused_and_the_running_pod_stays(world) -> None:
    _, rt, _, pods = world
    write(pods, web_doc())  # web-1 on 10.244.1.5
    agent = new_agent(world)
    pump(agent)
    assert status(agent, "web-1")["ready"]
    calls = len(rt.calls)
    write(pods, web_doc(name="web-0"))  # sorts first, same IP
    pump(agent)
    assert rt.calls[calls:] == []  # nothing stopped, nothing started
    assert status(agent, "web-1")["ready"]
    s = status(agent, "web-0")
    assert (s["phase"], s["reason"]) == ("Failed", "IPConflict")
    assert "10.244.1.5 is already held by pod default/web-1" in s["message"]


def test_a_fifo_in_the_pods_directory_is_reported_and_blocks_nothing(world) -> None:
    import os

    _, _, _, pods = world
    write(pods, web_doc())
    os.mkfifo(pods / "default_x.json")
    agent = new_agent(world)
    pump(agent)
    assert status(agent, "web-1")["ready"]
    s = status(agent, "x")
    assert (s["phase"], s["reason"]) == ("Failed", "InvalidManifest")
    assert "default_x.json: not a regular file (a FIFO)" in s["message"]
    assert any(e["pod"] == "x" and e["reason"] == "InvalidManifest" for e in agent.events.list())
