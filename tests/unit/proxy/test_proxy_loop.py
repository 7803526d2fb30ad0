"""The proxy loop with a fake kernel (FakeIptables), fake watchers and a fake clock.

Watchers are replaced by objects the test feeds directly (as the real ones do from their
threads), so every timing rule (2 s silence, start-up grace, retry backoff, canary) is
checked exactly, without sleeping. One test at the end runs the real watcher threads against
fake agents over HTTP with the real clock.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fake_agent import FakeAgent, pod
from fake_iptables import FakeIptables, RestoreError
from proxy_cases import FOREIGN_SAVE, cluster_json

from podplay.node.contract.proxy_status import ProxyStatus
from podplay.node.proxy.iptables import IptablesError
from podplay.node.proxy.proxier import CANARY_PERIOD, Proxier
from podplay.node.proxy.rules import CANARY


class FakeKernel:
    """The Iptables interface over FakeIptables; can be told to fail the next restores."""

    def __init__(self) -> None:
        self.ipt = FakeIptables()
        self.ipt.restore(FOREIGN_SAVE, noflush=False)
        self.fail_next = 0
        self.saves = 0

    def restore(self, text: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise IptablesError("iptables-restore: line 3 failed (injected)")
        try:
            self.ipt.restore(text)
        except RestoreError as err:
            raise IptablesError(str(err)) from None

    def save(self) -> str:
        self.saves += 1
        return self.ipt.save()

    def canary_ok(self) -> bool:
        return all(self.ipt.tables[t].get(CANARY) == ["-j RETURN"] for t in ("filter", "nat"))


class FakeWatcher:
    instances: dict[str, FakeWatcher] = {}

    def __init__(self, node, address, port, token, on_snapshot, on_heartbeat, **tls) -> None:
        self.node, self.address, self.port = node, address, port
        self.token = token
        self.snapshot, self.heartbeat = on_snapshot, on_heartbeat
        self.on_plain = tls.get("on_plain")
        self.running = False
        FakeWatcher.instances[node] = self

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


READY = {
    "node1": [
        pod("web-a", "10.244.1.5"),
        pod("sticky-a", "10.244.1.6"),
        pod("front-a", "10.244.1.8"),
    ],
    "node2": [
        pod("web-b", "10.244.2.5"),
        pod("sticky-b", "10.244.2.6"),
        pod("shop-a", "10.244.2.7"),
    ],
    "node3": [
        pod("web-c", "10.244.3.5"),
        pod("front-b", "10.244.3.8"),
        pod("dnsd-a", "10.244.3.10"),
    ],
}


@pytest.fixture
def env(tmp_path: Path):
    (tmp_path / "token").write_text("s3cret\n")
    cluster = tmp_path / "cluster.json"
    cluster.write_text(json.dumps(cluster_json()))
    agent = tmp_path / "agent.json"
    agent.write_text(
        json.dumps(
            {
                "node": "node1",
                "address": "172.30.5.11",
                "pod_cidr": "10.244.1.0/24",
                "cluster": "shop",
                "token_file": str(tmp_path / "token"),
                "cluster_file": str(cluster),
            }
        )
    )
    FakeWatcher.instances = {}
    kernel, clock = FakeKernel(), Clock()
    zones: list = []
    cleaned: list = []
    proxier = Proxier(
        str(agent),
        kernel,
        clock=clock,
        watcher_factory=FakeWatcher,
        on_zone=lambda st, ready: zones.append((st, ready)),
        status_path=str(tmp_path / "run" / "proxy.json"),
        udp_cleanup=cleaned.extend,
    )
    return proxier, kernel, clock, tmp_path, zones, cleaned


def feed_all(clock: Clock, pods: dict = READY) -> None:
    for name, w in FakeWatcher.instances.items():
        w.snapshot(name, pods.get(name, []), 1)


def dnat_targets(kernel: FakeKernel) -> set[str]:
    rules = [
        r for c, rs in kernel.ipt.tables["nat"].items() if c.startswith("PODPLAY-SVC-") for r in rs
    ]
    return {r.split("--to-destination ")[1] for r in rules if "--to-destination" in r}


def test_start_waits_for_every_node_then_one_full_sync(env):
    proxier, kernel, clock, tmp, zones, _ = env
    proxier.step(clock.now)
    assert sorted(FakeWatcher.instances) == ["node1", "node2", "node3"]
    assert FakeWatcher.instances["node1"].token() == "s3cret"
    assert kernel.ipt.restores == [FOREIGN_SAVE]  # nothing yet: still hearing from nodes
    FakeWatcher.instances["node1"].snapshot("node1", READY["node1"], 1)
    proxier.step(clock.now)
    assert len(kernel.ipt.restores) == 1
    FakeWatcher.instances["node2"].snapshot("node2", READY["node2"], 1)
    FakeWatcher.instances["node3"].snapshot("node3", READY["node3"], 1)
    proxier.step(clock.now)
    assert len(kernel.ipt.restores) == 2 and proxier.stats["full_syncs"] == 1
    assert "10.244.2.7:8080" in dnat_targets(kernel)
    assert kernel.ipt.dangling_jumps() == []
    status = json.loads((tmp / "run" / "proxy.json").read_text())
    assert status["synced"] and status["cluster_sha256"]
    assert "default/web-b@10.244.2.5" in status["ready_endpoints"]
    assert zones and len(zones[-1][1]) == 9
    # what the readers (`rollout step`, `podplay up`) parse it with
    read = ProxyStatus.from_json(status)
    assert read.synced and "default/web-b@10.244.2.5" in read.ready_endpoints
    assert read.to_json() == status


def test_start_grace_ends_after_2_5_seconds_even_if_a_node_is_down(env):
    proxier, kernel, clock, *_ = env
    proxier.step(clock.now)
    FakeWatcher.instances["node1"].snapshot("node1", READY["node1"], 1)
    clock.now += 2.0
    FakeWatcher.instances["node1"].heartbeat("node1")
    proxier.step(clock.now)
    assert len(kernel.ipt.restores) == 1
    clock.now += 0.6
    proxier.step(clock.now)
    assert len(kernel.ipt.restores) == 2
    assert dnat_targets(kernel) == {"10.244.1.5:8080", "10.244.1.6:8080", "10.244.1.8:8080"}


def restart_proxy(kernel, clock, tmp):
    """A new proxy process on the same node (its status file left by the one before), whose
    watchers of node1 and node3 have had their first snapshot."""
    FakeWatcher.instances = {}
    restarted = Proxier(str(tmp / "agent.json"), kernel, clock=clock, watcher_factory=FakeWatcher,
                        status_path=str(tmp / "run" / "proxy.json"),
                        udp_cleanup=lambda _: None)  # fmt: skip
    restarted.step(clock.now)
    for name in ("node1", "node3"):
        FakeWatcher.instances[name].snapshot(name, READY[name], 1)
    return restarted


def test_a_restarted_proxy_keeps_routing_to_a_node_whose_agent_is_still_plain_http(env):
    """An `up` that upgrades the bundle: this node's proxy restarts with the new bundle while
    node2's agent is still the older, plain-HTTP one. The proxy never sends it the token;
    while node2's agent answers its plain /healthz (on_plain), node2's endpoints stay as the
    previous proxy process routed them (its status file), then follow node2's TLS agent."""
    proxier, kernel, clock, tmp, *_ = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    assert "10.244.2.5:8080" in dnat_targets(kernel)
    restarted = restart_proxy(kernel, clock, tmp)
    FakeWatcher.instances["node2"].on_plain("node2")
    restarted.step(clock.now)
    assert {"10.244.2.5:8080", "10.244.2.7:8080", "10.244.1.5:8080"} <= dnat_targets(kernel)
    for _ in range(3):  # node2 keeps answering plain HTTP, the others beat
        clock.now += 1.0
        FakeWatcher.instances["node2"].on_plain("node2")
        for name in ("node1", "node3"):
            FakeWatcher.instances[name].heartbeat(name)
        restarted.step(clock.now)
    assert "10.244.2.5:8080" in dnat_targets(kernel)
    FakeWatcher.instances["node2"].snapshot("node2", READY["node2"][1:], 2)  # TLS at last
    restarted.step(clock.now)
    assert "10.244.2.5:8080" not in dnat_targets(kernel)  # what it says counts now
    assert "10.244.2.7:8080" in dnat_targets(kernel)


def test_a_restarted_proxy_does_not_hold_a_node_that_answers_nothing(env):
    proxier, kernel, clock, tmp, *_ = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    restarted = restart_proxy(kernel, clock, tmp)
    clock.now += 2.6  # the start-up grace is over; node2 never answered at all
    for name in ("node1", "node3"):
        FakeWatcher.instances[name].heartbeat(name)
    restarted.step(clock.now)
    assert "10.244.1.5:8080" in dnat_targets(kernel)
    assert "10.244.2.5:8080" not in dnat_targets(kernel)


def test_pod_unready_is_one_partial_restore_of_one_chain(env):
    proxier, kernel, clock, *_ = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    n = len(kernel.ipt.restores)
    FakeWatcher.instances["node2"].snapshot(
        "node2", [p if p["name"] != "web-b" else dict(p, ready=False) for p in READY["node2"]], 2
    )
    proxier.step(clock.now)
    assert len(kernel.ipt.restores) == n + 1
    text = kernel.ipt.restores[-1]
    assert text.count(":PODPLAY-") == 1 and "*filter" not in text
    assert "10.244.2.5:8080" not in dnat_targets(kernel)
    assert kernel.saves == 1  # partial syncs never read the kernel back


def test_silent_node_drops_out_after_two_seconds_and_comes_back(env):
    proxier, kernel, clock, *_ = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    for _ in range(4):  # node1 and node3 keep beating, node2 goes quiet
        clock.now += 0.5
        FakeWatcher.instances["node1"].heartbeat("node1")
        FakeWatcher.instances["node3"].heartbeat("node3")
        proxier.step(clock.now)
    assert "10.244.2.5:8080" in dnat_targets(kernel)  # 2.0 s: not yet
    assert proxier.next_wakeup(clock.now) <= 0.5
    clock.now += 0.1
    proxier.step(clock.now)
    assert not {"10.244.2.5:8080", "10.244.2.7:8080"} & dnat_targets(kernel)
    # shop's only endpoint was on node2: its ClusterIP now rejects
    assert any(
        "default/shop:http has no endpoints" in r
        for r in kernel.ipt.tables["filter"]["PODPLAY-SERVICES"]
    )
    FakeWatcher.instances["node2"].heartbeat("node2")
    proxier.step(clock.now)
    assert "10.244.2.7:8080" in dnat_targets(kernel)


def test_failed_restore_is_retried_as_a_full_sync_with_backoff(env):
    proxier, kernel, clock, *_ = env
    proxier.step(clock.now)
    feed_all(clock)
    kernel.fail_next = 2
    proxier.step(clock.now)
    assert proxier.stats["failures"] == 1 and proxier.last_error
    proxier.step(clock.now + 0.1)  # backoff: not yet
    assert proxier.stats["failures"] == 1
    clock.now += 0.5
    proxier.step(clock.now)
    assert proxier.stats["failures"] == 2
    clock.now += 0.6
    proxier.step(clock.now)
    assert proxier.stats["failures"] == 2  # second backoff is 1 s
    clock.now += 0.5
    proxier.step(clock.now)
    assert proxier.stats["full_syncs"] == 1 and proxier.last_error is None
    assert "10.244.2.5:8080" in dnat_targets(kernel)


def test_flushed_tables_are_noticed_by_the_canary_and_restored(env):
    proxier, kernel, clock, *_ = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    kernel.ipt.flush_all()  # iptables -F; iptables -X, in every table
    clock.now += CANARY_PERIOD
    feed_all(clock)
    proxier.step(clock.now)
    assert proxier.stats["full_syncs"] == 2
    assert "10.244.2.5:8080" in dnat_targets(kernel)
    assert kernel.ipt.tables["nat"]["PREROUTING"][0].endswith("-j PODPLAY-SERVICES")


def test_cluster_json_changes_are_picked_up_and_bad_ones_ignored(env):
    proxier, kernel, clock, tmp, zones, _ = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    raw = cluster_json()
    raw["services"] = [s for s in raw["services"] if s["name"] != "web"]
    (tmp / "cluster.json").write_text(json.dumps(raw))
    clock.now += 0.5
    proxier.step(clock.now)
    assert "10.244.3.5:8080" not in dnat_targets(kernel)
    assert not any("default/web:" in r for r in kernel.ipt.tables["nat"]["PODPLAY-SERVICES"])
    before = kernel.ipt.save()
    (tmp / "cluster.json").write_text("{not json")
    clock.now += 0.5
    proxier.step(clock.now)
    assert kernel.ipt.save() == before and "keeping the previous" in proxier.last_error
    assert zones[-1][0].services == proxier.inputs.state.services


def test_removed_udp_endpoint_clears_its_conntrack_entries(env):
    proxier, _kernel, clock, _tmp, _zones, cleaned = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    FakeWatcher.instances["node3"].snapshot("node3", READY["node3"][:2], 2)
    proxier.step(clock.now)
    assert cleaned == ["10.244.3.10"]


def test_node_removed_from_cluster_stops_its_watcher(env):
    proxier, _kernel, clock, tmp, *_ = env
    proxier.step(clock.now)
    node3 = FakeWatcher.instances["node3"]
    raw = cluster_json()
    raw["nodes"] = raw["nodes"][:2]
    (tmp / "cluster.json").write_text(json.dumps(raw))
    clock.now += 0.5
    proxier.step(clock.now)
    assert not node3.running and "node3" not in proxier.inputs.watchers


# -- real watcher threads, real clock ----------------------------------------------------------


def test_real_watchers_drop_an_unready_pod_pushed_by_its_agent(tmp_path: Path, cluster_pki):
    tls = (cluster_pki.cert, cluster_pki.key)
    agents = {n: FakeAgent(n, heartbeat=0.2, tls=tls).start() for n in ("node1", "node2", "node3")}
    try:
        raw = cluster_json()
        for n in raw["nodes"]:
            n["address"], n["api_port"] = "127.0.0.1", agents[n["name"]].port
        (tmp_path / "cluster.json").write_text(json.dumps(raw))
        (tmp_path / "token").write_text("s3cret")
        (tmp_path / "agent.json").write_text(
            json.dumps(
                {
                    "node": "node1",
                    "address": "172.30.5.11",
                    "pod_cidr": "10.244.1.0/24",
                    "token_file": str(tmp_path / "token"),
                    "cluster_file": str(tmp_path / "cluster.json"),
                    "tls_ca": cluster_pki.ca,
                }
            )
        )
        for name, agent in agents.items():
            agent.set_pods(READY[name])
        kernel = FakeKernel()
        proxier = Proxier(str(tmp_path / "agent.json"), kernel, status_path=None)
        stop = threading.Event()
        t = threading.Thread(target=proxier.run, args=(stop,), daemon=True)
        t.start()
        deadline = time.monotonic() + 5
        while "10.244.2.5:8080" not in dnat_targets(kernel) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "10.244.2.5:8080" in dnat_targets(kernel)
        agents["node2"].set_pods([dict(p, ready=p["name"] != "web-b") for p in READY["node2"]])
        started = time.monotonic()
        while "10.244.2.5:8080" in dnat_targets(kernel) and time.monotonic() - started < 10:
            time.sleep(0.01)
        # pushed, not polled: gone well before the 2 s silence rule could have done it
        assert "10.244.2.5:8080" not in dnat_targets(kernel)
        assert proxier.inputs.readiness.alive("node2", time.monotonic())
        stop.set()
        proxier.wake.set()
        t.join(5)
    finally:
        for agent in agents.values():
            agent.stop()


def test_a_changed_agent_json_asks_for_a_fresh_process(env):
    proxier, _, clock, tmp, *_ = env
    proxier.step(clock.now)
    config = json.loads((tmp / "agent.json").read_text())
    config["pod_cidr"] = "10.244.9.0/24"
    (tmp / "agent.json").write_text(json.dumps(config))
    clock.now += 0.5
    proxier.step(clock.now)
    assert proxier.inputs.restart_requested
    assert proxier.inputs.node.pod_cidr == "10.244.1.0/24"  # nothing half-switched meanwhile
    stop = threading.Event()
    proxier.run(stop)  # returns at once: systemd starts the new process
