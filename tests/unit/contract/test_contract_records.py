"""The node contract's records: each format round-trips, is written in one canonical order,
fills the defaults from one place, and refuses what it does not know with one error type."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from podplay.node.contract import defaults
from podplay.node.contract.agent import AgentConfig
from podplay.node.contract.cluster import STATE_FIELDS, ClusterState
from podplay.node.contract.containers import CONTAINER_FIELDS, PROBE_FIELDS
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text, decode
from podplay.node.contract.network import NetworkConfig
from podplay.node.contract.pods import POD_FIELDS, PodSpec


def probe(**fields: Any) -> dict[str, Any]:
    timing = {"period": 10, "timeout": 1, "failure_threshold": 3, "success_threshold": 1,
              "initial_delay": 0}  # fmt: skip
    kind = {k: v for k, v in fields.items() if k not in timing}
    return {**kind, **{k: fields.get(k, v) for k, v in timing.items()}}


POD: dict[str, Any] = {
    "apiVersion": "podplay/v1",
    "kind": "Pod",
    "name": "web-5d9c8f7b6a-x7k2p",
    "namespace": "default",
    "uid": "2b1f4c7e-0000-4000-8000-000000000001",
    "labels": {"tier": "front", "app": "web"},  # not sorted: the order is kept
    "owner": {"kind": "Deployment", "name": "web"},
    "template_hash": "5d9c8f7b6a",
    "ip": "10.244.1.5",
    "hostname": "web-5d9c8f7b6a-x7k2p",
    "restart_policy": "Always",
    "termination_grace_period": 30,
    "dns": {
        "nameservers": ["10.96.0.10"],
        "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
        "options": ["ndots:5"],
    },
    "containers": [
        {
            "name": "web",
            "image": "podplay/web:1a2b3c4d5e6f",
            "image_id": "sha256:abc",
            "command": None,
            "args": ["--port", "8080"],
            "env": {"MODE": "prod", "A": "1"},
            "ports": [{"container_port": 8080, "protocol": "TCP", "name": "http"}],
            "resources": {"cpu_millis": 250, "memory_bytes": 67108864},
            "readiness": probe(type="http", path="/healthz", port=8080),
            "liveness": probe(type="exec", command=["cat", "/ok"], period=2.5, initial_delay=5),
            "startup": probe(type="tcp", port=8080, period=1, failure_threshold=30),
        }
    ],
}

SERVICE = {
    "name": "web", "namespace": "default", "type": "LoadBalancer", "cluster_ip": "10.96.23.7",
    "selector": {"app": "web"},
    "ports": [{"name": None, "port": 80, "target_port": 8080, "node_port": 30080,
               "protocol": "TCP"}],
    "session_affinity": "ClientIP", "affinity_timeout": 600,
    "load_balancer_ip": "172.30.5.240", "external_name": None,
    "endpoints": [{"pod": "web-b", "namespace": "default", "node": "node2", "ip": "10.244.2.5"},
                  {"pod": "web-a", "namespace": "default", "node": "node1", "ip": "10.244.1.5"}],
}  # fmt: skip
CLUSTER = {
    "apiVersion": "podplay/v1", "kind": "ClusterState", "cluster": "shop",
    "pod_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/16", "dns_ip": "10.96.0.10",
    "cluster_domain": "cluster.local", "node_port_range": [30000, 32767],
    "nodes": [{"name": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24",
               "api_port": 10250}],
    "services": [SERVICE, {"name": "ext", "namespace": "default", "type": "ExternalName",
                           "cluster_ip": None, "selector": None, "ports": [],
                           "session_affinity": None, "affinity_timeout": 10800,
                           "load_balancer_ip": None, "external_name": "db.example.org",
                           "endpoints": []}],
}  # fmt: skip
NETWORK = {
    "node": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24",
    "cluster_pod_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/16",
    "bridge_network": "podplay", "bridge_name": "podplay0",
    "nodes": [{"name": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24"},
              {"name": "node2", "address": "172.30.5.12", "pod_cidr": "10.244.2.0/24"}],
    "node_only_ports": [22, 2379, 2380, 10250],
}  # fmt: skip


def text(doc: Any) -> str:
    """Compared as written: canonical text tells 10 from 10.0, which == does not."""
    return canonical_text(doc)


def test_a_pod_round_trips_in_the_order_the_planner_writes() -> None:
    spec = PodSpec.from_json(POD, "default_web.json")
    assert text(spec.to_json()) == text(POD)
    assert list(spec.to_json()) == list(POD_FIELDS)
    assert list(spec.to_json()["containers"][0]) == list(CONTAINER_FIELDS)
    assert list(spec.to_json()["labels"]) == ["tier", "app"]
    assert spec.containers[0].env == (("MODE", "prod"), ("A", "1"))
    assert spec.containers[0].liveness.period == 2.5
    assert set(spec.containers[0].readiness.to_json()) <= set(PROBE_FIELDS)


def test_a_short_pod_gets_the_contracts_defaults() -> None:
    doc = copy.deepcopy(POD)
    for field in ("hostname", "restart_policy", "termination_grace_period", "owner", "dns"):
        del doc[field]
    del doc["containers"][0]["readiness"]["period"]
    spec = PodSpec.from_json(doc, "f.json")
    assert (spec.hostname, spec.restart_policy, spec.grace_period) == (
        spec.name,
        "Always",
        defaults.TERMINATION_GRACE_PERIOD,
    )
    assert spec.containers[0].readiness.period == 10


def test_the_container_hash_is_what_running_containers_carry() -> None:
    # io.podplay.config-hash on running containers: a new agent must compute what the agent
    # before the contract package did (these values), or it would replace every container
    spec = PodSpec.from_json(POD, "f.json")
    assert spec.containers[0].config_hash == "38cc582797b83689"
    assert spec.sandbox_hash == "1f58b870e5dafa02"
    shuffled = copy.deepcopy(POD)
    shuffled["containers"][0]["env"] = {"A": "1", "MODE": "prod"}
    assert PodSpec.from_json(shuffled, "f.json").containers[0].config_hash == "38cc582797b83689"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("host_name",), "f.json: host_name: unknown field"),
        (("containers", 0, "mem"), "f.json: containers[0].mem: unknown field"),
        (("containers", 0, "readiness", "every"), "f.json: containers[0].readiness.every: unknown"),
        (("containers", 0, "ports", 0, "hostPort"), "containers[0].ports[0].hostPort: unknown"),
        (("dns", "search"), "f.json: dns.search: unknown field"),
        (("owner", "uid"), "f.json: owner.uid: unknown field"),
    ],
)
def test_a_field_the_contract_does_not_know_is_refused(path: tuple, message: str) -> None:
    doc = copy.deepcopy(POD)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = 1
    with pytest.raises(ContractError) as err:
        PodSpec.from_json(doc, "f.json")
    assert message in str(err.value)


def test_cluster_json_round_trips_and_keeps_the_documents_order() -> None:
    state = ClusterState.from_json(CLUSTER)
    assert text(state.to_json()) == text(CLUSTER)
    assert list(state.to_json()) == list(STATE_FIELDS)
    assert [e.pod for e in state.services[0].endpoints] == ["web-b", "web-a"]


def test_cluster_json_defaults_come_from_the_contract() -> None:
    state = ClusterState.from_json({"nodes": [{"name": "n", "address": "10.0.0.1",
                                               "pod_cidr": "10.244.1.0/24"}]})  # fmt: skip
    assert (state.pod_cidr, state.service_cidr, state.dns_ip, state.cluster_domain) == (
        defaults.POD_CIDR,
        defaults.SERVICE_CIDR,
        defaults.DNS_IP,
        defaults.CLUSTER_DOMAIN,
    )
    assert state.node_port_range == defaults.NODE_PORT_RANGE
    assert state.nodes[0].api_port == defaults.AGENT_API_PORT


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "Pod"}, "cluster.json: apiVersion/kind: expected podplay/v1 ClusterState"),
        ({"nodes": [{"name": "n", "address": "x", "pod_cidr": "10.244.1.0/24"}]},
         "cluster.json: nodes[0].address: expected an IPv4 address, got 'x'"),
        ({"services": [{**SERVICE, "type": "Magic"}]},
         "service default/web: type: expected one of ClusterIP, NodePort, LoadBalancer"),
        ({"services": [{**SERVICE, "sessionAffinity": "ClientIP"}]},
         "service default/web: sessionAffinity: unknown field"),
        ({"node_port_range": [32767, 30000]},
         "cluster.json: node_port_range: expected [first, last]"),
        ({"services": [{}]},
         "cluster.json: services[0].name: missing (a non-empty string is required)"),
    ],
)  # fmt: skip
def test_a_bad_cluster_json_names_the_field(change: dict, message: str) -> None:
    with pytest.raises(ContractError) as err:
        ClusterState.from_json({**CLUSTER, **change})
    assert message in str(err.value)


def test_agent_json_writes_every_field_and_the_optional_ones_only_when_set() -> None:
    cfg = AgentConfig.from_json({"node": "node1", "address": "172.30.5.11",
                                 "pod_cidr": "10.244.1.0/24"})  # fmt: skip
    doc = cfg.to_json()
    assert doc["api_port"] == defaults.AGENT_API_PORT
    assert doc["token_file"] == defaults.TOKEN_FILE and doc["pods_dir"] == defaults.PODS_DIR
    assert "backoff" not in doc and "bind_address" not in doc and "workers" not in doc
    assert AgentConfig.from_json(doc) == cfg
    tuned = AgentConfig.from_json({**doc, "backoff": {"initial": 1}, "workers": 2})
    assert tuned.to_json()["backoff"] == {"initial": 1, "maximum": 300.0, "reset_after": 600.0}
    assert AgentConfig.from_json(tuned.to_json()) == tuned


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"podCidr": "x"}, "/etc/podplay/agent.json: podCidr: unknown field"),
        ({"workers": 0}, "/etc/podplay/agent.json: workers: expected an integer >= 1, got 0"),
        ({"backoff": {"initial": 1, "max": 2}}, "agent.json: backoff.max: unknown field"),
        ({"dns_ip": "ten"}, "agent.json: dns_ip: expected an IP address, got 'ten'"),
    ],
)
def test_a_bad_agent_json_names_the_field(change: dict, message: str) -> None:
    good = {"node": "node1", "address": "172.30.5.11", "pod_cidr": "10.244.1.0/24"}
    with pytest.raises(ContractError) as err:
        AgentConfig.from_json({**good, **change})
    assert message in str(err.value)


def test_network_json_round_trips_and_refuses_unknown_fields() -> None:
    cfg = NetworkConfig.from_json(NETWORK)
    assert text(cfg.to_json()) == text(NETWORK)
    assert [p.name for p in cfg.peers] == ["node2"] and cfg.gateway == "10.244.1.1"
    nodes = [NETWORK["nodes"][0], {**NETWORK["nodes"][1], "port": 1}]
    with pytest.raises(ContractError) as err:
        NetworkConfig.from_json({**NETWORK, "nodes": nodes})
    assert str(err.value) == "network.json: nodes[1].port: unknown field"


def test_canonical_text_is_stable_and_decode_names_the_file() -> None:
    assert canonical_text({"b": 1, "a": [1, 2]}) == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}\n'
    assert canonical_text(json.loads(canonical_text(POD))) == canonical_text(POD)
    with pytest.raises(ContractError, match=r"^x.json: not valid JSON \(Expecting"):
        decode(b"{nope", "x.json")
    with pytest.raises(ContractError, match="nested too deeply"):
        decode(b"[" * 100_000, "x.json")
