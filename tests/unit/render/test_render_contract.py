"""The node contract end to end: what the planner and the renderer produce is what the nodes'
own parsers read, field for field.

For every golden case (the files on disk) and for a fresh `podplay compile` of it and of every
example program (the planner's output now), each pod manifest (`podplay_pods`, and plan.json's
`pods[].manifest`) and each service (`podplay_services`, and plan.json's `services`) parses with
the node-side parser and round-trips: `from_json(x).to_json()` is `x`, compared as the
canonical text the nodes' files hold. The parsers refuse unknown fields, so a field renamed
on one side only fails here, whichever side it is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from golden import CASES_DIR, REPO, compile_case, config

from podplay.node.agent.manifest import PodSpec as AgentPodSpec
from podplay.node.agent.manifest import parse_manifest
from podplay.node.contract.cluster import ClusterState, Service
from podplay.node.contract.jsontext import canonical_text
from podplay.node.contract.network import NetworkConfig
from podplay.node.contract.pods import PodSpec, manifest_filename
from podplay.node.contract.store import NodeSpec
from podplay.node.proxy.state import parse_cluster
from podplay.node.store.table import parse_desired

CASES = sorted(
    (p for p in CASES_DIR.iterdir() if p.is_dir()), key=lambda p: ("previous" in config(p), p.name)
)
EXAMPLES = sorted([*REPO.glob("examples/*.py"), *REPO.glob("examples/*/app.py")])


def same(document: Any, parsed: Any) -> None:
    """`parsed.to_json()` is `document`, byte for byte as a node's file would hold it."""
    assert canonical_text(parsed.to_json()) == canonical_text(document)


def check_pod(pod: dict[str, Any], pod_cidr: str) -> None:
    name = manifest_filename(pod["namespace"], pod["name"])
    spec = PodSpec.from_json(pod, name)
    same(pod, spec)
    # the agent reads the file as written, and admits the IP on its node
    agent_view = parse_manifest(name, canonical_text(pod).encode(), pod_cidr)
    assert isinstance(agent_view, AgentPodSpec), agent_view
    assert agent_view == spec


def check_services(group: dict[str, Any], services: list[dict[str, Any]]) -> None:
    for i, service in enumerate(services):
        same(service, Service.from_json(service, f"podplay_services[{i}]"))
    nodes = group["podplay_nodes"]
    known = all(n["address"] for n in nodes)  # compile before the cluster exists: unknown
    cluster_json = {
        "cluster": group["podplay_cluster_name"],
        "pod_cidr": group["podplay_pod_cidr"],
        "service_cidr": group["podplay_service_cidr"],
        "dns_ip": group["podplay_dns_ip"],
        "cluster_domain": group["podplay_cluster_domain"],
        "node_port_range": group["podplay_node_port_range"],
        "nodes": nodes if known else [],
        "services": services,
    }
    state = ClusterState.from_json(cluster_json)
    assert [canonical_text(s.to_json()) for s in state.services] == [
        canonical_text(s) for s in services
    ]
    routed = parse_cluster(cluster_json)  # the proxy's own reading, in routing order
    assert sorted(s.key for s in routed.services) == sorted(s.key for s in state.services)


def check_nodes(group: dict[str, Any]) -> None:
    """`podplay_nodes` is network.json's `nodes` (once the addresses are known)."""
    nodes = group["podplay_nodes"]
    if not all(n["address"] for n in nodes):
        return
    for node in nodes:
        network_json = {
            "node": node["name"],
            "address": node["address"],
            "pod_cidr": node["pod_cidr"],
            "cluster_pod_cidr": group["podplay_pod_cidr"],
            "service_cidr": group["podplay_service_cidr"],
            "nodes": nodes,
        }
        cfg = NetworkConfig.from_json(network_json)
        assert cfg.to_json()["nodes"] == nodes


def check_table(group: dict[str, Any], pods_by_node: dict[str, Any], plan: dict[str, Any]) -> None:
    """What the agent role's `store_table` task hands the node bundle (every node's
    `podplay_pods`, the node specs and selectors) is the plan's binding table, read by the
    bundle's own parser: each pod on its planned node and IP, with its deployment's node
    selector and template; each node spec round-trips."""
    for spec in group["podplay_node_specs"]:
        same(spec, NodeSpec.from_json(spec))
    desired = parse_desired(
        {
            "cluster": group["podplay_cluster_name"],
            "node_grace": group["podplay_node_grace"],
            "nodes": group["podplay_node_specs"],
            "pods": pods_by_node,
            "node_selectors": group["podplay_node_selectors"],
        }
    )
    assert sorted(s.name for s in desired.nodes.values()) == sorted(
        n["name"] for n in plan["nodes"]
    )
    templates = {(d["namespace"], d["name"]): d["template"] for d in plan["deployments"]}
    bound = {b.key: b for b in desired.bindings.values()}
    assert sorted(bound) == sorted((p["namespace"], p["name"]) for p in plan["pods"])
    for pod in plan["pods"]:
        b = bound[(pod["namespace"], pod["name"])]
        assert (b.node, b.ip, b.deployment, b.template_hash, b.placed_by) == (
            pod["node"],
            pod["ip"],
            pod["deployment"],
            pod["template_hash"],
            "plan",
        )
        template = templates[(pod["namespace"], pod["deployment"])]
        assert b.node_selector == template["node_selector"]
        assert canonical_text(b.manifest) == canonical_text(pod["manifest"])


def load_yaml(path: Path) -> Any:
    """A compiled variables file; golden files mask machine paths as @NAME@ (not YAML)."""
    return yaml.safe_load(re.sub(r"@[A-Z_]+@", "masked", path.read_text()))


def check_output(out: Path) -> int:
    """Check one compiled tree; returns how many documents went through the parsers."""
    group = load_yaml(out / "group_vars" / "all.yml")
    plan = json.loads((out / "plan.json").read_text())
    check_services(group, group["podplay_services"])
    check_services(group, plan["services"])
    check_nodes(group)
    cidrs = {n["name"]: n["pod_cidr"] for n in plan["nodes"]}
    rendered = []
    pods_by_node = {}
    for path in sorted((out / "host_vars").glob("*.yml")):
        node = load_yaml(path)
        pods_by_node[path.stem] = node.get("podplay_pods") or []
        for pod in node.get("podplay_pods") or []:
            check_pod(pod, node["podplay_node_pod_cidr"])
            rendered.append(canonical_text(pod))
    for pod in plan["pods"]:
        check_pod(pod["manifest"], cidrs[pod["node"]])
    assert sorted(rendered) == sorted(canonical_text(p["manifest"]) for p in plan["pods"])
    check_table(group, pods_by_node, plan)
    return len(rendered) + len(group["podplay_services"])


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_golden_pods_and_services_are_what_the_nodes_read(case: Path) -> None:
    assert check_output(case / "expected") > 0


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_the_planners_pods_and_services_now_are_what_the_nodes_read(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert compile_case(case, out, tmp_path / "home", monkeypatch) == 0
    assert check_output(out) > 0


@pytest.mark.parametrize("program", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_compiles_to_what_the_nodes_read(
    program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podplay.cli.main import main

    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(program.parent)
    assert main(["compile", program.name, "-o", str(tmp_path / "out")]) == 0
    assert check_output(tmp_path / "out") > 0
