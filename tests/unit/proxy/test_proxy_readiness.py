"""Readiness from agent snapshots and a fake clock; the watch client against a fake agent."""

from __future__ import annotations

import threading
import time

from fake_agent import FakeAgent, pod
from proxy_cases import state

from podplay.node.proxy.readiness import Readiness
from podplay.node.proxy.watch import Watcher

WEB = [pod("web-a", "10.244.1.5"), pod("web-b", "10.244.2.5"), pod("web-c", "10.244.3.5")]


def web_ready(r: Readiness, now: float) -> set[str]:
    return {e.pod for e in r.ready(state(), now) if e.pod.startswith("web-")}


def test_ready_needs_a_snapshot_from_the_planned_node():
    r = Readiness()
    r.snapshot("node1", WEB, now=0.0)  # node1 claims all three, but only web-a is planned there
    assert web_ready(r, 0.0) == {"web-a"}
    r.snapshot("node2", [pod("web-b", "10.244.2.5")], now=0.0)
    assert web_ready(r, 0.0) == {"web-a", "web-b"}


def test_unready_pod_wrong_ip_and_failed_phase_do_not_count():
    r = Readiness()
    failed = dict(pod("web-a", "10.244.1.5"), phase="Failed")
    r.snapshot("node1", [failed], now=0.0)
    r.snapshot("node2", [pod("web-b", "10.244.2.99")], now=0.0)
    r.snapshot("node3", [pod("web-c", "10.244.3.5", ready=False)], now=0.0)
    assert web_ready(r, 0.0) == set()


def test_a_silent_node_loses_its_endpoints_after_two_seconds_and_heartbeats_keep_it():
    r = Readiness()
    r.snapshot("node2", [pod("web-b", "10.244.2.5")], now=10.0)
    assert web_ready(r, 12.0) == {"web-b"}  # exactly 2 s: still alive
    assert web_ready(r, 12.01) == set()
    assert r.heartbeat("node2", 12.5) is True  # back: the loop must resync
    assert web_ready(r, 12.5) == {"web-b"}
    assert r.heartbeat("node2", 13.0) is False
    assert r.next_expiry(13.0) == 15.0


def test_snapshot_reports_change_only_when_ready_set_changes():
    r = Readiness()
    assert r.snapshot("node1", WEB, 0.0) is True
    assert r.snapshot("node1", WEB, 0.5) is False
    assert r.snapshot("node1", WEB[1:], 1.0) is True


def test_heartbeat_before_any_snapshot_means_nothing():
    r = Readiness()
    assert r.heartbeat("node1", 0.0) is False
    assert not r.alive("node1", 0.0)


# -- the watch client over HTTP --------------------------------------------------------------


class Collector:
    def __init__(self) -> None:
        self.snapshots: list[tuple[str, list, int]] = []
        self.heartbeats = 0
        self.event = threading.Event()

    def snap(self, node: str, pods: list, gen: int) -> None:
        self.snapshots.append((node, pods, gen))
        self.event.set()

    def beat(self, node: str) -> None:
        self.heartbeats += 1


def wait_for(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_watcher_gets_snapshots_and_heartbeats():
    agent = FakeAgent("node1").start()
    agent.set_pods(WEB)
    col = Collector()
    w = Watcher("node1", "127.0.0.1", agent.port, lambda: "s3cret", col.snap, col.beat)
    w.start()
    try:
        assert wait_for(lambda: col.snapshots and col.heartbeats >= 2)
        assert [p["name"] for p in col.snapshots[0][1]] == ["web-a", "web-b", "web-c"]
        agent.set_pods(WEB[:1])
        assert wait_for(lambda: len(col.snapshots[-1][1]) == 1)
    finally:
        w.stop()
        agent.stop()
    w.join(3)
    assert not w.is_alive()


def test_watcher_with_a_bad_token_gets_nothing_and_keeps_trying():
    agent = FakeAgent("node1").start()
    agent.set_pods(WEB)
    col = Collector()
    token = {"value": "wrong"}
    w = Watcher("node1", "127.0.0.1", agent.port, lambda: token["value"], col.snap, col.beat)
    w.start()
    try:
        assert wait_for(lambda: w.last_error is not None and "401" in w.last_error)
        assert col.snapshots == []
        token["value"] = "s3cret"  # the token file was fixed
        assert wait_for(lambda: bool(col.snapshots))
    finally:
        w.stop()
        agent.stop()


def test_watcher_reconnects_after_silence():
    agent = FakeAgent("node1").start()
    agent.set_pods(WEB)
    col = Collector()
    w = Watcher(
        "node1", "127.0.0.1", agent.port, lambda: "s3cret", col.snap, col.beat, read_timeout=0.5
    )
    w.start()
    try:
        assert wait_for(lambda: w.connects == 1 and col.snapshots)
        agent.silent.set()  # hung agent: no line at all
        assert wait_for(lambda: w.last_error is not None and "timed out" in w.last_error)
        agent.silent.clear()
        assert wait_for(lambda: w.connects >= 2)
    finally:
        w.stop()
        agent.stop()


class RecordingEvent(threading.Event):
    """The watcher's stop event, recording each pause between attempts (kept short here)."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout or 0.0)
        return super().wait(0.01)


def test_watcher_backs_off_while_refused_and_starts_fast_after_a_working_stream():
    from podplay.node.proxy import watch

    agent = FakeAgent("node1").start()
    agent.set_pods(WEB)
    col = Collector()
    token = {"value": "wrong"}
    w = Watcher("node1", "127.0.0.1", agent.port, lambda: token["value"], col.snap, col.beat,
                read_timeout=0.3)  # fmt: skip
    w._stop_event = pauses = RecordingEvent()
    w.start()
    try:
        assert wait_for(lambda: len(pauses.pauses) >= 4)
        assert pauses.pauses[:4] == [watch.RETRY_MIN, 2 * watch.RETRY_MIN, watch.RETRY_MAX,
                                     watch.RETRY_MAX]  # fmt: skip
        token["value"] = "s3cret"
        assert wait_for(lambda: w.connects == 1)
        before = len(pauses.pauses)
        agent.silent.set()  # the agent goes quiet (it restarts): a fresh outage
        assert wait_for(lambda: len(pauses.pauses) > before)
        assert pauses.pauses[before] == watch.RETRY_MIN
    finally:
        w.stop()
        agent.stop()
