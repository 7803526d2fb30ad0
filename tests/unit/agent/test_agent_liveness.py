"""What the agent vouches for (issue 12 item 1): nothing is ready after a node restart until
seen running and probed since this boot (while an agent restart keeps readiness), a stuck
reconcile loop makes every pod unready, and a node going down drains its pods first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fake_runtime import FakeRuntime
from test_agent_loop import IMAGES, Held, Inline, new_agent, pump, status, web_doc, write

from podplay.node.agent import agent as agent_module
from podplay.node.agent import liveness, memory
from podplay.node.agent.agent import Agent
from podplay.node.agent.board import StatusBoard
from podplay.node.agent.config import parse_config
from podplay.node.agent.liveness import LoopWatch
from podplay.node.agent.messages import EngineChanged

POD = {"name": "web-1", "namespace": "default", "ip": "10.244.1.5", "phase": "Running",
       "ready": True, "containers": [{"name": "web", "ready": True}]}  # fmt: skip


# -- which boot a saved state is from -------------------------------------------------------


def fake_proc(root: Path, boot_id: str, pid1_start: int, btime: int = 1_700_000_000) -> str:
    (root / "sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (root / "sys/kernel/random/boot_id").write_text(boot_id + "\n")
    (root / "1").mkdir(exist_ok=True)
    fields = ["S"] + ["0"] * 18 + [str(pid1_start)] + ["0"] * 10
    (root / "1/stat").write_text("1 (systemd) " + " ".join(fields) + "\n")
    (root / "stat").write_text(f"cpu 1 2 3\nbtime {btime}\nprocesses 9\n")
    return str(root)


def test_the_boot_is_the_kernels_and_pid_1s(tmp_path: Path) -> None:
    boot = memory.this_boot(fake_proc(tmp_path, "k-1", 500))
    hz = __import__("os").sysconf("SC_CLK_TCK")
    assert boot == memory.Boot("k-1/500", 1_700_000_000 + 500 / hz)
    # a node container restarted on the same kernel: same kernel boot id, new PID 1
    assert memory.this_boot(fake_proc(tmp_path, "k-1", 90_000)).id != boot.id
    assert memory.this_boot(str(tmp_path / "nowhere")) == memory.Boot("")


def test_a_state_from_another_boot_gives_no_readiness(tmp_path: Path) -> None:
    text = memory.state_text(3, [POD], {"c1": True}, {("u1", "web"): 2}, "k-1/500")
    memory.save(str(tmp_path), text)
    doc = memory.load(str(tmp_path))
    same, other = memory.Boot("k-1/500"), memory.Boot("k-1/90000")
    assert memory.from_this_boot(doc, same) and not memory.from_this_boot(doc, other)
    assert memory.recall(doc, same).ready == {"c1": True}
    recalled = memory.recall(doc, other)
    assert recalled.ready == {} and recalled.streaks == {("u1", "web"): 2}
    assert not memory.from_this_boot(doc, memory.Boot(""))  # unknown boot: not trusted


def test_an_older_state_without_a_boot_is_judged_by_its_files_time(tmp_path: Path) -> None:
    (tmp_path / memory.STATE_FILE).write_text('{"generation": 1, "pods": [], "ready": {}}')
    doc = memory.load(str(tmp_path))
    written = doc["written_at"]
    assert memory.from_this_boot(doc, memory.Boot("k/1", started_at=written - 60))
    assert not memory.from_this_boot(doc, memory.Boot("k/1", started_at=written + 60))


def test_statuses_from_before_a_node_restart_are_served_unready() -> None:
    board = StatusBoard()
    board.restore(41, [POD], this_boot=False)
    gen, pods = board.snapshot()
    assert gen == 41 and pods[0]["name"] == "web-1"
    assert pods[0]["ready"] is False and pods[0]["containers"][0]["ready"] is False
    assert "node restarted" in board.node_message
    board.restore(41, [POD], this_boot=True)  # an agent restart: served as saved
    assert board.snapshot()[1] == [POD]


def test_a_node_restart_gives_no_readiness_to_adopted_containers(world) -> None:
    """The same containers (as if they had survived) adopted by a new agent: with the state
    of this boot they stay ready; with one from before the node restarted, they are probed
    first (readiness probe with a long period: it has not answered yet)."""
    _, rt, cfg, pods = world
    doc = web_doc()
    doc["containers"][0]["readiness"] = {"type": "tcp", "port": 8080, "period": 30}
    write(pods, doc)
    first = new_agent(world)
    pump(first)
    cid = rt.running("web-1", "web").id
    first.probing.probes[cid].trackers["readiness"].result = True  # it had passed
    first.step()
    first._save_state()
    for boot, ready in ((first.boot, True), (memory.Boot("another-boot/1"), False)):
        agent = Agent(cfg, runtime=rt, clock=world[0], boot=boot)
        agent.actuator.workers = agent.actuator.stoppers = Inline()
        agent.probing.pool = Held()  # the probe does not come back in this test
        pump(agent)
        assert status(agent, "web-1")["ready"] is ready, boot


# -- a stuck loop --------------------------------------------------------------------------


def test_loop_watch_marks_the_board_once_per_stuck_pass() -> None:
    t = [0.0]
    watch, board = LoopWatch(stall=5.0, clock=lambda: t[0]), StatusBoard()
    board.publish([POD], True, "")
    assert not watch.check(board)  # no pass in progress
    watch.begin()
    t[0] = 4.9
    assert not watch.check(board) and board.snapshot()[1][0]["ready"]
    t[0] = 5.0
    assert watch.stalled_for() == 5.0
    assert watch.check(board) and not watch.check(board)  # once
    gen, pods = board.snapshot()
    assert gen == 2 and not pods[0]["ready"] and not board.node_ready
    assert "reconcile loop is stuck" in board.node_message
    assert watch.end() is True and watch.end() is False
    assert board.publish([POD], True, "")  # the same statuses as before the mark: published
    assert board.snapshot()[1][0]["ready"]


def test_a_hung_engine_call_makes_every_pod_unready_until_the_loop_moves(
    world, monkeypatch
) -> None:
    """The real loop on its own thread; the engine's list call hangs (as the FIFO's open()
    did): within the stall time the board says nothing is ready; once the call returns, the
    pods are ready again."""
    _, rt, cfg, pods = world
    monkeypatch.setattr(liveness, "WATCHDOG_INTERVAL", 0.02)
    write(pods, web_doc())
    agent = Agent(cfg, runtime=rt, clock=time.time, shutting_down=lambda: False)
    agent.actuator.workers = agent.actuator.stoppers = Inline()
    agent.probing.pool = Inline()
    agent.loopwatch = LoopWatch(stall=0.3)
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        wait(lambda: ready_of(agent) is True, "ready")
        rt.gate = threading.Event()
        agent.post(EngineChanged(images=False))
        started = time.monotonic()
        wait(lambda: ready_of(agent) is False, "unready while stuck")
        assert time.monotonic() - started < 2.0
        assert not agent.board.node_ready and "stuck" in agent.board.node_message
        rt.gate.set()
        wait(lambda: ready_of(agent) is True and agent.board.node_ready, "ready again")
    finally:
        if rt.gate is not None:
            rt.gate.set()
        agent.stop("test")
        runner.join(5)


def ready_of(agent: Agent):
    pods = agent.board.snapshot()[1]
    return pods[0]["ready"] if pods else None


def wait(check, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# -- a node going down ---------------------------------------------------------------------


@pytest.mark.parametrize("node_stops", [True, False], ids=["node-shutdown", "agent-restart"])
def test_pods_are_drained_only_when_the_node_goes_down(world, monkeypatch, node_stops) -> None:
    _, rt, cfg, pods = world
    monkeypatch.setattr(agent_module, "DRAIN_SECONDS", 0.2)
    write(pods, web_doc())
    agent = Agent(cfg, runtime=rt, clock=time.time, shutting_down=lambda: node_stops)
    agent.actuator.workers = agent.actuator.stoppers = Inline()
    agent.probing.pool = Inline()
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    wait(lambda: ready_of(agent) is True, "ready")
    seen: list = []
    watcher = threading.Thread(
        target=lambda: seen.append(agent.board.wait_change(agent.board.generation, 5)),
        daemon=True,
    )
    watcher.start()
    started = time.monotonic()
    agent.stop("signal 15")
    runner.join(5)
    assert rt.containers and all(o.running for o in rt.containers.values())  # fail static
    if node_stops:
        assert ready_of(agent) is False and "node shutting down" in agent.board.node_message
        assert time.monotonic() - started >= 0.2  # lingered for the watchers
        watcher.join(1)
        assert seen  # a watcher waiting on the board was woken with the news
    else:
        assert ready_of(agent) is True


@pytest.fixture
def world(tmp_path: Path):
    from test_agent_loop import Clock

    clock = Clock()
    rt = FakeRuntime(clock, IMAGES)
    cfg = parse_config({
        "node": "node1", "address": "127.0.0.1", "pod_cidr": "10.244.1.0/24",
        "pause_image": "podplay/pause:1", "pods_dir": str(tmp_path / "pods"),
        "state_dir": str(tmp_path / "state"),
    })  # fmt: skip
    (tmp_path / "pods").mkdir()
    return clock, rt, cfg, tmp_path / "pods"


@pytest.mark.parametrize(
    ("answer", "stopping"),
    [("stopping\n", True), ("running\n", False), ("degraded\n", False), (OSError(), False)],
)
def test_the_node_is_going_down_when_systemd_says_stopping(monkeypatch, answer, stopping):
    import subprocess

    def run(argv, **kw):
        assert argv == ["systemctl", "is-system-running"]
        if isinstance(answer, Exception):
            raise answer
        return subprocess.CompletedProcess(argv, 1, stdout=answer, stderr="")

    monkeypatch.setattr(liveness.subprocess, "run", run)
    assert liveness.system_stopping() is stopping
