"""The proxy follows the store's binding table: a pod the controller moved is routed on its
new node and IP as soon as that node reports it ready, a returning node's stale report of it
counts for nothing, and the table never brings back an endpoint cluster.json drained."""

from __future__ import annotations

import json

from fake_agent import pod
from proxy_cases import cluster_json
from test_proxy_loop import READY, FakeWatcher, dnat_targets, env, feed_all  # noqa: F401

from podplay.node.contract.cluster import ClusterState
from podplay.node.contract.store import Binding, Requests
from podplay.node.proxy.overlay import locations, overlay
from podplay.node.proxy.state import parse_cluster
from podplay.node.store import keys
from podplay.node.store.wire import KeyValue


def moved_binding(name: str, node: str, ip: str) -> Binding:
    manifest = {"name": name, "namespace": "default", "ip": ip}
    return Binding("default", name, node, ip, "web", "t", {}, Requests(), manifest,
                   "controller", "node2", 1.0, "gone")  # fmt: skip


def kv_of(*bindings: Binding) -> dict[str, KeyValue]:
    out = {}
    for b in bindings:
        key = keys.binding_key("shop", b.namespace, b.name)
        out[key] = KeyValue(key, b.to_text().encode(), 2, 2, 1)
    bad = keys.binding_key("shop", "default", "broken")
    out[bad] = KeyValue(bad, b"{not json", 3, 3, 1)
    return out


def state() -> ClusterState:
    return parse_cluster(cluster_json())


def test_locations_read_every_readable_binding() -> None:
    where = locations(kv_of(moved_binding("web-b", "node3", "10.244.3.9")))
    assert where == {("default", "web-b"): ("node3", "10.244.3.9")}


def test_overlay_moves_only_the_endpoints_of_bound_pods_and_keeps_routing_order() -> None:
    s = state()
    assert overlay(s, {}) is s
    assert overlay(s, {("default", "web-a"): ("node1", "10.244.1.5")}) is s  # where planned
    moved = overlay(s, {("default", "web-b"): ("node3", "10.244.3.9")})
    web = next(x for x in moved.services if x.name == "web")
    assert [(e.pod, e.node, e.ip) for e in web.endpoints if e.pod == "web-b"] == [
        ("web-b", "node3", "10.244.3.9")
    ]
    assert [e.ip for e in web.endpoints] == sorted(
        (e.ip for e in web.endpoints), key=lambda ip: tuple(int(p) for p in ip.split("."))
    )
    assert overlay(s, {("default", "nobody"): ("node3", "10.244.3.99")}) is s  # never adds


def test_a_moved_pod_is_routed_on_its_new_node_and_the_old_report_is_ignored(env) -> None:  # noqa: F811
    proxier, kernel, clock, *_ = env
    proxier.step(clock.now)
    feed_all(clock)
    proxier.step(clock.now)
    assert "10.244.2.5:8080" in dnat_targets(kernel)
    proxier.inputs.set_locations(locations(kv_of(moved_binding("web-b", "node3", "10.244.3.9"))))
    proxier.step(clock.now)
    # node2 still reports web-b ready at its old IP (it came back): not routed
    assert "10.244.2.5:8080" not in dnat_targets(kernel)
    assert "10.244.3.9:8080" not in dnat_targets(kernel)  # node3 does not run it yet
    ready3 = [*READY["node3"], pod("web-b", "10.244.3.9")]
    FakeWatcher.instances["node3"].snapshot("node3", ready3, 2)
    proxier.step(clock.now)
    assert "10.244.3.9:8080" in dnat_targets(kernel)


def test_cluster_json_drains_whatever_the_table_says(env) -> None:  # noqa: F811
    proxier, kernel, clock, tmp, *_ = env
    proxier.step(clock.now)
    feed_all(clock, {**READY, "node3": [*READY["node3"], pod("web-b", "10.244.3.9")]})
    proxier.inputs.set_locations(locations(kv_of(moved_binding("web-b", "node3", "10.244.3.9"))))
    proxier.step(clock.now)
    assert "10.244.3.9:8080" in dnat_targets(kernel)
    doc = cluster_json()
    for service in doc["services"]:
        service["endpoints"] = [e for e in service["endpoints"] if e["pod"] != "web-b"]
    (tmp / "cluster.json").write_text(json.dumps(doc))
    clock.now += 1
    proxier.step(clock.now)
    assert "10.244.3.9:8080" not in dnat_targets(kernel)
    assert all(e.pod != "web-b" for s in proxier.inputs.state.services for e in s.endpoints)
