"""The repairer's loop: events, the canary and the timers decide when it looks (fake clock)."""

from __future__ import annotations

import json
import struct

import pytest
from network_fakes import CFG, DOC, FakeNode

from podplay.node.network import netlink, watch
from podplay.node.network.plan import BridgeState, bridge_options
from podplay.node.network.repairer import Repairer


class FakeEngine:
    major = 20

    def __init__(self, log):
        self.log = log

    def bridge(self, name):
        self.log.append("bridge")
        return BridgeState(True, CFG.pod_cidr, CFG.gateway, bridge_options(CFG, 20))


@pytest.fixture
def loop(tmp_path, monkeypatch):
    monkeypatch.setattr(watch, "locked", _no_lock)
    config = tmp_path / "network.json"
    config.write_text(json.dumps(DOC))
    node = FakeNode()
    log: list[str] = []
    w = watch.Watch(
        str(config),
        repairer_factory=lambda cfg: Repairer(cfg, ops=node, record_path="rec"),
        engine_factory=lambda: FakeEngine(log),
        clock=lambda: 0.0,
    )
    w.step(0.0)  # the start: one whole pass
    node.done.clear()
    return w, node, log, config


class _no_lock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_start_is_one_whole_pass(loop):
    w, node, log, _ = loop
    assert log == ["bridge"] and w.passes["bridge"] == 1
    assert node.canary_ok() and len(node.route_list) == 3
    assert w.next_wakeup(0.0) == watch.CANARY_PERIOD


def test_a_flush_is_seen_by_the_canary_and_repaired_within_a_second(loop):
    w, node, _, _ = loop
    node.flush()
    w.step(0.5)
    assert not node.canary_ok()  # not looked yet
    w.step(watch.CANARY_PERIOD)
    assert node.canary_ok() and w.passes["rules"] == 1
    assert node.ipt.tables["nat"]["DOCKER_OUTPUT"]


def test_a_link_event_brings_a_links_pass_shortly_after(loop):
    w, node, _, _ = loop
    node.route_list = node.route_list[:1]
    w.wake(1.3, "route removed")
    w.step(1.35)
    assert w.passes["links"] == 0
    w.step(1.3 + watch.EVENT_DELAY)
    assert w.passes["links"] == 1 and len(node.route_list) == 3
    assert w.passes["rules"] == 0  # a links pass reads no iptables


def test_a_burst_of_events_brings_at_most_one_links_pass_per_spacing(loop):
    w, _, _, _ = loop
    t = 5.0
    w.step(t)  # a rules pass (timers) at 5.0
    passes = w.passes["links"]
    while t < 6.0:
        t = round(t + 0.05, 2)
        w.wake(t, "link added")
        w.step(t)
    assert w.passes["links"] - passes == 2  # at 5.5 and 6.0, not twenty


def test_timers_alone_repair_what_no_event_announced(loop):
    w, node, _, _ = loop
    node.route_list = node.route_list[:1]
    node.ipt.tables["nat"]["DOCKER_OUTPUT"] = []  # no canary can see this one
    w.step(watch.LINK_PERIOD)
    assert len(node.route_list) == 3 and not node.ipt.tables["nat"]["DOCKER_OUTPUT"]
    w.step(watch.RULES_PERIOD)
    assert node.ipt.tables["nat"]["DOCKER_OUTPUT"]


def test_a_failed_pass_is_retried_and_logged_once(loop, caplog):
    w, node, _, _ = loop
    node.route_list = node.route_list[:1]
    node.unreachable = True
    for t in (watch.LINK_PERIOD, watch.LINK_PERIOD + 1, watch.LINK_PERIOD + 2):
        w.step(t)
    assert w.passes["failed"] == 3
    assert sum("Nexthop has invalid gateway" in r.message for r in caplog.records) == 1
    node.unreachable = False
    w.step(watch.LINK_PERIOD + 3)
    assert len(node.route_list) == 3 and w.last_error is None


def test_a_new_network_json_is_applied_whole_at_once(loop):
    w, node, log, config = loop
    doc = json.loads(config.read_text())
    doc["nodes"].append({"name": "node4", "address": "172.30.5.14", "pod_cidr": "10.244.4.0/24"})
    config.write_text(json.dumps(doc, indent=1))
    w.step(0.2)
    assert log == ["bridge", "bridge"]
    assert {"dst": "10.244.4.0/24", "gateway": "172.30.5.14", "dev": "eth0"} in node.route_list


def test_a_bad_network_json_keeps_the_network_as_it_is(loop, caplog):
    w, node, _, config = loop
    config.write_text("{")
    w.step(0.2)
    assert "keeping the network as it is" in caplog.text
    node.flush()
    w.step(watch.CANARY_PERIOD)
    assert node.canary_ok()  # still repairing with the last good config


def test_systemd_is_told_when_ready(tmp_path, monkeypatch):
    import socket

    path = str(tmp_path / "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    watch.notify_systemd("READY=1")
    assert server.recv(100) == b"READY=1"
    server.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    watch.notify_systemd("READY=1")  # no socket: nothing, no error


def test_rtnetlink_message_types_are_named():
    def msg(kind: int, payload: bytes = b"\0" * 5) -> bytes:
        body = struct.pack("=IHHII", 16 + len(payload), kind, 0, 0, 0) + payload
        return body + b"\0" * (-len(body) % 4)

    datagram = msg(17) + msg(21, b"\0" * 8) + msg(99) + msg(24)
    assert netlink.message_types(datagram) == ["link removed", "address removed", "route added"]
    assert netlink.message_types(b"\0" * 3) == []
    assert netlink.message_types(struct.pack("=IHHII", 0, 16, 0, 0, 0)) == []


def test_run_applies_says_ready_and_stops_when_told(loop, monkeypatch):
    import threading

    w, node, _, _ = loop
    said: list[str] = []
    monkeypatch.setattr(watch, "notify_systemd", said.append)
    monkeypatch.setattr(watch, "open_events", lambda: None)  # timers only
    node.flush()
    stop = threading.Event()
    w.clock = __import__("time").monotonic
    w.due = dict.fromkeys(w.due, 0.0)
    thread = threading.Thread(target=w.run, args=(stop,))
    thread.start()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert said and said[0].startswith("READY=1") and node.canary_ok()


class BridgeEngine:
    major = 20

    def __init__(self, state):
        self.state, self.calls = state, []

    def bridge(self, name):
        return self.state

    def create_bridge(self, cfg):
        self.calls.append("create")

    def remove_bridge(self, name):
        self.calls.append("remove")


def test_the_bridge_is_created_when_missing_and_never_replaced_under_pods():
    from podplay.node.network.apply import NetworkError, ensure_bridge

    missing = BridgeEngine(BridgeState(False))
    assert ensure_bridge(CFG, missing) == ["docker network podplay created on 10.244.1.0/24"]
    assert missing.calls == ["create"]
    good = BridgeEngine(BridgeState(True, CFG.pod_cidr, CFG.gateway, bridge_options(CFG, 20)))
    assert ensure_bridge(CFG, good) == [] and good.calls == []
    wrong = BridgeState(True, "10.244.9.0/24", "10.244.9.1", bridge_options(CFG, 20))
    empty = BridgeEngine(wrong)
    assert ensure_bridge(CFG, empty, check=True) == [
        "docker network podplay recreated on 10.244.1.0/24"
    ]
    assert empty.calls == []  # check mode
    with pytest.raises(NetworkError, match="2 container"):
        ensure_bridge(CFG, BridgeEngine(wrong._replace(containers=2)))
