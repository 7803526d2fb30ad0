"""The actuator against the in-memory engine: actions in order per pod, results posted back
as messages, failures retried 1 s, 2 s, 4 s ... 60 s later (fake clock, inline pools)."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from agent_builders import spec
from fake_runtime import FakeRuntime

from podplay.node.agent.actuator import Actuator
from podplay.node.agent.board import EventLog
from podplay.node.agent.messages import ActionsDone
from podplay.node.agent.reconcile import KillContainer, RemovePod, StartContainer, StartPod
from podplay.node.agent.runtime import RuntimeError_

WEB = spec()
KEY = WEB.key


class Inline:
    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn, *args):
        self.submitted += 1
        f: Future = Future()
        f.set_result(fn(*args))
        return f

    def shutdown(self, wait=True):
        pass


class World:
    def __init__(self) -> None:
        self.t = 1000.0
        self.rt = FakeRuntime(lambda: self.t, {})
        self.events = EventLog()
        self.posted: list[ActionsDone] = []
        self.act = Actuator(self.rt, self.events, self.posted.append, lambda: self.t, workers=2)
        self.act.workers, self.act.stoppers = Inline(), Inline()  # type: ignore[assignment]

    def reasons(self) -> list[str]:
        return [e["reason"] for e in self.events.list()]


@pytest.fixture
def world() -> World:
    return World()


def start_pod(w: World) -> None:
    w.act.dispatch([StartPod(KEY, WEB, 0, (("web", 0),))])
    w.act.on_done(w.posted[-1])


def test_a_pod_starts_and_the_result_comes_back_as_a_message(world: World) -> None:
    world.act.dispatch([StartPod(KEY, WEB, 0, (("web", 0),))])
    assert world.act.busy == {KEY: "StartPod"}
    assert world.rt.calls == [("sandbox", "web-1", 0), ("run", "web-1", "web", 0)]
    sandbox, web = world.rt.running("web-1", "POD"), world.rt.running("web-1", "web")
    # only new containers: they come back with the message (the loop takes them as they are)
    assert world.posted == [ActionsDone(KEY, (), None, (sandbox, web))]
    assert world.reasons() == ["SandboxStarted", "Started"]
    world.act.on_done(world.posted[0])
    assert world.act.busy == {} and world.act.errors == {}


def test_a_restart_records_its_streak_once_done(world: World) -> None:
    start_pod(world)
    old = world.rt.running("web-1", "web")
    world.rt.exit(old.id, 1)
    sandbox = world.rt.running("web-1", "POD")
    world.act.dispatch([StartContainer(KEY, WEB, WEB.containers[0], 1, sandbox.id, streak=3)])
    new = world.rt.running("web-1", "web")
    assert world.posted[-1] == ActionsDone(KEY, ((("u1", "web"), 3),), None, (new,))
    world.act.on_done(world.posted[-1])
    assert world.act.streaks == {("u1", "web"): 3}
    world.act.forget_streaks({"another-uid"})
    assert world.act.streaks == {}


def test_stopping_batches_go_to_their_own_pool(world: World) -> None:
    start_pod(world)
    running = world.rt.running("web-1", "web")
    world.act.dispatch([KillContainer(KEY, running, "liveness probe failed: refused")])
    assert world.act.stoppers.submitted == 1  # type: ignore[attr-defined]
    assert world.act.workers.submitted == 1  # type: ignore[attr-defined]  (the start)
    assert ("stop", running.id) in world.rt.calls


class Failing(FakeRuntime):
    def create_sandbox(self, spec, attempt):
        raise RuntimeError_("CreateError", "creating the sandbox: no space left")


def test_a_failed_pod_is_retried_with_a_growing_delay() -> None:
    w = World()
    w.rt = w.act.rt = Failing(lambda: w.t, {})
    delays = []
    for _ in range(8):
        w.act.dispatch([StartPod(KEY, WEB, 0, (("web", 0),))])
        done = w.posted[-1]
        assert done.error == ("CreateError", "creating the sandbox: no space left")
        w.act.on_done(done)
        delays.append(w.act.retry_at()[KEY] - w.t)
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert w.act.errors[KEY].count == 8 and w.reasons()[-1] == "CreateError"
    w.rt = w.act.rt = FakeRuntime(lambda: w.t, {})
    start_pod(w)
    assert w.act.errors == {} and w.act.retry_at() == {}


class SlowToStop(FakeRuntime):
    def stop(self, o, grace=None):
        if o.container == "web":
            raise OSError("engine gone")
        super().stop(o, grace)


def test_removing_a_pod_stops_then_removes_and_reports_a_failed_stop() -> None:
    w = World()
    start_pod(w)
    seen = tuple(w.rt.containers.values())
    w.act.dispatch([RemovePod(KEY, seen)])
    w.act.on_done(w.posted[-1])
    assert w.rt.containers == {} and w.reasons()[-1] == "Killing"
    w.rt = w.act.rt = SlowToStop(lambda: w.t, {})
    start_pod(w)
    seen = tuple(w.rt.containers.values())
    w.act.dispatch([RemovePod(KEY, seen)])
    assert w.posted[-1].error == ("RuntimeError", "engine gone")
    assert w.rt.containers  # nothing removed after the failed stop: retried later
