"""The proxy's status file and its endpoint keys: one definition for the proxy that writes
them, the planner that names the endpoints a rollout waits for, and the readers."""

from __future__ import annotations

import pytest

from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.proxy_status import (
    ProxyStatus,
    endpoint_key,
    endpoint_pod,
    parse_endpoint_key,
    routed_or_none,
)
from podplay.node.rollout import look

STATUS = {
    "node": "node1",
    "cluster_sha256": "ab" * 32,
    "synced": True,
    "wall_time": 1700000000.5,
    "services": 2,
    "ready_endpoints": ["default/web-b@10.244.2.5", "shop/db-0@10.244.1.7"],
    "nodes": [{"node": "node1", "alive": True, "silent_for": 0.1, "generation": 3,
               "ready_pods": 2}],
    "stats": {"full_syncs": 1},
    "last_error": None,
}  # fmt: skip


def test_an_endpoint_key_is_namespace_pod_at_ip_and_parses_back() -> None:
    key = endpoint_key("shop", "web-5d9c8f7b6a-x7k2p", "10.244.1.5")
    assert key == "shop/web-5d9c8f7b6a-x7k2p@10.244.1.5"
    assert parse_endpoint_key(key) == ("shop", "web-5d9c8f7b6a-x7k2p", "10.244.1.5")
    assert endpoint_pod(key) == ("shop", "web-5d9c8f7b6a-x7k2p")


def test_a_status_round_trips_and_names_what_is_routed() -> None:
    status = ProxyStatus.from_json(STATUS)
    assert status.synced and status.node == "node1"
    assert status.ready_endpoints == frozenset(STATUS["ready_endpoints"])
    assert status.to_json() == STATUS
    assert routed_or_none(STATUS) == frozenset(STATUS["ready_endpoints"])
    only = ProxyStatus.from_json({"ready_endpoints": []})  # what a reader needs, no more
    assert only.ready_endpoints == frozenset() and not only.synced


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"ready_endpoints": None},
            "proxy status: ready_endpoints: expected a list of endpoint keys, got None",
        ),
        (
            {"ready_endpoints": [1]},
            "proxy status: ready_endpoints: expected a list of endpoint keys, got [1]",
        ),
        ({"synced": "yes"}, "proxy status: synced: expected true or false, got 'yes'"),
        ({"services": True}, "proxy status: services: expected an integer, got True"),
        ({"wall_time": "now"}, "proxy status: wall_time: expected a number, got 'now'"),
        ({"nodes": {}}, "proxy status: nodes: expected a list, got {}"),
        ({"nodes": [1]}, "proxy status: nodes: expected a list of objects, got [1]"),
        ({"routes": []}, "proxy status: routes: unknown field"),
    ],
)
def test_a_bad_status_is_refused_naming_the_field(change: dict, message: str) -> None:
    with pytest.raises(ContractError) as err:
        ProxyStatus.from_json({**STATUS, **change})
    assert str(err.value) == message
    assert routed_or_none({**STATUS, **change}) is None  # a reader: "cannot say"


def test_no_document_is_unknown_routing() -> None:
    assert routed_or_none(None) is None
    assert routed_or_none([]) is None


def test_every_reader_and_writer_uses_the_one_path() -> None:
    assert defaults.PROXY_STATUS_JSON == "/run/podplay/proxy.json"
    assert look.PROXY_STATUS == defaults.PROXY_STATUS_JSON


def test_a_rollout_pod_key_is_namespace_slash_name_and_parses_back() -> None:
    from podplay.node.contract.rollout import parse_pod_key, pod_key

    assert pod_key("shop", "db-0") == "shop/db-0"
    assert parse_pod_key(pod_key("shop", "db-0")) == ("shop", "db-0")
