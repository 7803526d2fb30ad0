"""Readiness from agent snapshots and a fake clock; the watch client against a fake agent
(over TLS with a throwaway cluster PKI, and a plain-HTTP one standing for an older bundle)."""

from __future__ import annotations

import threading
import time

import pytest
from fake_agent import FakeAgent, pod
from proxy_cases import state

from podplay.node.proxy.readiness import Readiness
from podplay.node.proxy.watch import Watcher, cluster_ca

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


# -- the watch client over HTTPS -------------------------------------------------------------


@pytest.fixture
def tls(cluster_pki) -> tuple[str, str]:
    """node1's certificate and key (SAN 127.0.0.1), as a fake agent serves them."""
    return cluster_pki.cert, cluster_pki.key


@pytest.fixture
def ca(cluster_pki):
    return cluster_ca(cluster_pki.ca)


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


def test_watcher_gets_snapshots_and_heartbeats(tls, ca):
    agent = FakeAgent("node1", tls=tls).start()
    agent.set_pods(WEB)
    col = Collector()
    w = Watcher(
        "node1", "127.0.0.1", agent.port, lambda: "s3cret", col.snap, col.beat, tls_context=ca
    )
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


def test_watcher_with_a_bad_token_gets_nothing_and_keeps_trying(tls, ca):
    agent = FakeAgent("node1", tls=tls).start()
    agent.set_pods(WEB)
    col = Collector()
    token = {"value": "wrong"}
    w = Watcher(
        "node1", "127.0.0.1", agent.port, lambda: token["value"], col.snap, col.beat, tls_context=ca
    )
    w.start()
    try:
        assert wait_for(lambda: w.last_error is not None and "401" in w.last_error)
        assert col.snapshots == []
        token["value"] = "s3cret"  # the token file was fixed
        assert wait_for(lambda: bool(col.snapshots))
    finally:
        w.stop()
        agent.stop()


def test_watcher_reconnects_after_silence(tls, ca):
    agent = FakeAgent("node1", tls=tls).start()
    agent.set_pods(WEB)
    col = Collector()
    w = Watcher(
        "node1",
        "127.0.0.1",
        agent.port,
        lambda: "s3cret",
        col.snap,
        col.beat,
        read_timeout=0.5,
        tls_context=ca,
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


def test_watcher_backs_off_while_refused_and_starts_fast_after_a_working_stream(tls, ca):
    from podplay.node.proxy import watch

    agent = FakeAgent("node1", tls=tls).start()
    agent.set_pods(WEB)
    col = Collector()
    token = {"value": "wrong"}
    w = Watcher("node1", "127.0.0.1", agent.port, lambda: token["value"], col.snap, col.beat,
                read_timeout=0.3, tls_context=ca)  # fmt: skip
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


def test_watcher_refuses_an_agent_whose_certificate_is_another_clusters(foreign_pki, ca):
    """Same node name and address, another CA: no request is made, the token never leaves."""
    agent = FakeAgent("node1", tls=(foreign_pki.cert, foreign_pki.key)).start()
    agent.set_pods(WEB)
    col, plain = Collector(), []
    w = Watcher("node1", "127.0.0.1", agent.port, lambda: "s3cret", col.snap, col.beat,
                tls_context=ca, on_plain=plain.append)  # fmt: skip
    w.start()
    try:
        assert wait_for(lambda: w.last_error is not None and "certificate" in w.last_error)
        time.sleep(0.3)
        assert col.snapshots == [] and plain == [] and agent.requests == []
    finally:
        w.stop()
        agent.stop()


def test_watcher_refuses_a_certificate_that_does_not_name_the_address_dialled(cluster_pki, ca):
    """node2's certificate (the cluster's CA, SAN 127.0.0.2 and 127.0.0.1) served on 127.0.0.3."""
    agent = FakeAgent("node2", tls=(cluster_pki.other_cert, cluster_pki.other_key),
                      address="127.0.0.3").start()  # fmt: skip
    agent.set_pods(WEB)
    col = Collector()
    w = Watcher("node2", "127.0.0.3", agent.port, lambda: "s3cret", col.snap, col.beat,
                tls_context=ca)  # fmt: skip
    w.start()
    try:
        assert wait_for(lambda: w.last_error is not None and "127.0.0.3" in w.last_error)
        assert col.snapshots == [] and agent.requests == []
    finally:
        w.stop()
        agent.stop()


def test_watcher_against_a_plain_http_agent_holds_it_and_never_sends_the_token(ca):
    """An agent of an older bundle (plain HTTP): the watcher asks its /healthz without a
    token, tells the proxy (on_plain), and never gets (or asks for) its pods."""
    agent = FakeAgent("node1").start()
    agent.set_pods(WEB)
    col, plain = Collector(), []
    w = Watcher("node1", "127.0.0.1", agent.port, lambda: "s3cret", col.snap, col.beat,
                tls_context=ca, on_plain=plain.append)  # fmt: skip
    w.start()
    try:
        assert wait_for(lambda: len(plain) >= 2)  # again on every attempt: the hold stays fresh
        assert plain[0] == "node1" and col.snapshots == []
        assert w.last_error is not None and "plain HTTP" in w.last_error
        assert agent.requests and all(r == ("/healthz", None) for r in agent.requests)
    finally:
        w.stop()
        agent.stop()


def test_hold_keeps_a_plain_agents_last_snapshot_alive():
    r = Readiness()
    r.snapshot("node2", [pod("web-b", "10.244.2.5")], now=10.0)
    assert web_ready(r, 13.0) == set()  # silent: gone
    assert r.hold("node2", 13.0) is True  # alive again, its last snapshot in force
    assert web_ready(r, 13.0) == {"web-b"}
    assert r.hold("node2", 14.0) is False
    assert web_ready(r, 16.0) == {"web-b"} and web_ready(r, 16.5) == set()  # held, not forever


def test_hold_of_a_node_never_heard_uses_what_the_previous_proxy_routed():
    r = Readiness()
    r.seed(["default/web-b@10.244.2.5", "default/web-c@10.244.3.99", "garbage"])
    r.snapshot("node1", [pod("web-a", "10.244.1.5")], now=0.0)
    assert web_ready(r, 0.0) == {"web-a"}
    assert r.hold("node2", 0.0) is True and r.heard_from("node2")
    assert r.hold("node3", 0.0) is True
    # web-b was routed before; web-c's planned IP is not the one routed; web-a is node1's
    assert web_ready(r, 0.0) == {"web-a", "web-b"}
    r.snapshot("node2", [], now=1.0)  # its agent speaks TLS now: what it says counts
    assert web_ready(r, 1.0) == {"web-a"}
