"""Which parts of `site.yml` a converge must run, per node, from digests of their inputs (pure).

`site.yml` is made of parts, each an Ansible tag of the collection's plays (a plain
`ansible-playbook site.yml` runs them all; `podplay up` runs only the ones whose inputs
changed, with `--tags` and `--limit`):

    node           node role: the node bundle (and its directory)
    runtime        runtime role: the Docker engine
    network        network role: kernel settings, bridge, routes, NAT
    control_plane  control_plane role: certificates, store.json, etcd and the controller
    agent          agent role: its config, API token, unit, service
    images         agent role: the images the pods need, side-loaded
    pods           agent role: the binding table in the store, the node's pod manifests
    services       proxy role: cluster.json, keepalived.conf, the services following them
    proxy          proxy role: the same one task (run for a new bundle: the proxy's unit)

A part's digest on a node hashes exactly what that part consumes there: the rendered
variables it reads (`group_vars`, the node's `host_vars` and inventory entry) and the
controller files it ships or reads (`ControllerFiles`: node bundle, token, certificates, the
collection's own source). `up` records the digests of what it applied per node
(`podplay.control.state`); a part runs on a node when its digest differs from the recorded
one, or none is recorded (a new stack, a node not converged yet, a recreated cluster).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podplay.plan import Plan, PodPlan
from podplay.render.inventory import inventory_data
from podplay.render.options import RenderOptions
from podplay.render.variables import group_vars_data, host_vars_data

PARTS = (
    "node",
    "runtime",
    "network",
    "control_plane",
    "agent",
    "images",
    "pods",
    "services",
    "proxy",
)
APP_PARTS = ("images", "pods", "services")  # what a change of deployments/services touches
STAGE_PARTS = ("pods", "services")  # what stage.yml (a rollout step) runs

_BUNDLE = ("podplay_node_bundle", "podplay_node_bundle_path")
# the variables each part reads: group_vars/all.yml's, then the node's host_vars
_GROUP_VARS: dict[str, tuple[str, ...]] = {
    "node": _BUNDLE,
    "runtime": (),
    "network": (
        *_BUNDLE,
        "podplay_pod_cidr",
        "podplay_service_cidr",
        "podplay_nodes",
    ),
    "control_plane": (*_BUNDLE, "podplay_cluster_name", "podplay_nodes", "podplay_pki_dir"),
    "agent": (
        *_BUNDLE,
        "podplay_cluster_name",
        "podplay_agent_token_file",
        "podplay_pause_image",
        "podplay_dns_ip",
        "podplay_cluster_domain",
    ),
    "images": ("podplay_pause_image", "podplay_images"),
    "pods": (
        *_BUNDLE,
        "podplay_cluster_name",
        "podplay_node_grace",
        "podplay_node_specs",
        "podplay_node_selectors",
        "podplay_nodes",
    ),
    "services": (
        *_BUNDLE,
        "podplay_cluster_name",
        "podplay_nodes",
        "podplay_services",
        "podplay_pod_cidr",
        "podplay_service_cidr",
        "podplay_dns_ip",
        "podplay_cluster_domain",
        "podplay_node_port_range",
    ),
    "proxy": _BUNDLE,
}
_HOST_VARS: dict[str, tuple[str, ...]] = {
    "node": (),
    "runtime": (),
    "network": ("podplay_node_address", "podplay_node_pod_cidr"),
    "control_plane": ("podplay_node_address",),
    "agent": ("podplay_node_address", "podplay_node_pod_cidr"),
    "images": (),
    "pods": ("podplay_pods",),
    "services": ("podplay_node_address",),
    "proxy": (),
}
# controller files each part reads (keys of ControllerFiles.digests; `{node}` is the host)
_FILES: dict[str, tuple[str, ...]] = {
    "node": ("bundle",),
    "network": ("bundle",),
    "control_plane": ("bundle", "pki/ca.crt", "pki/nodes/{node}.crt", "pki/nodes/{node}.key"),
    "agent": ("bundle", "token"),
    "pods": ("bundle",),
    "services": ("bundle",),
    "proxy": ("bundle",),
}


@dataclass(frozen=True)
class ControllerFiles:
    """Digests of the files on this machine the roles ship or read (`bundle`, `token`,
    `pki/...`), of the collection's source (`collection`: a new podplay changes
    what every role does) and the identity of the cluster's machines (`nodes`: node name →
    e.g. its container id; another one means a recreated node, which runs everything)."""

    digests: Mapping[str, str] = field(default_factory=dict)
    collection: str = ""
    nodes: Mapping[str, str] = field(default_factory=dict)


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def part_digests(
    plan: Plan, options: RenderOptions, files: ControllerFiles
) -> dict[str, dict[str, str]]:
    """node → part → digest of what that part consumes on that node, for `plan` rendered
    with `options` (the same variables `render` writes)."""
    shared = group_vars_data(plan, options)
    members = sorted(n.name for n in plan.control_plane())
    hosts = inventory_data(plan)["all"]["children"]["nodes"]["hosts"]
    by_node: dict[str, list[PodPlan]] = {}
    for pod in plan.pods:
        by_node.setdefault(pod.node, []).append(pod)
    digests: dict[str, dict[str, str]] = {}
    for node in plan.nodes:
        pods = sorted(by_node.get(node.name, []), key=lambda p: (p.namespace, p.name))
        own = host_vars_data(node, pods)
        common = {
            "node": node.name,
            "machine": files.nodes.get(node.name, ""),
            "collection": files.collection,
            "inventory": hosts.get(node.name, {}),
        }
        digests[node.name] = {}
        for part in PARTS:
            inputs = {
                **common,
                "group": {k: shared.get(k) for k in _GROUP_VARS[part]},
                "host": {k: own.get(k) for k in _HOST_VARS[part]},
                "files": {
                    key: files.digests.get(key.format(node=node.name), "")
                    for key in _FILES.get(part, ())
                },
            }
            if part == "control_plane":
                inputs["members"] = members
            digests[node.name][part] = _hash(inputs)
    return digests


@dataclass(frozen=True)
class Scope:
    """What one converge runs: the parts (`--tags`) on the hosts (`--limit`); per host the
    parts it needed (every host of the run gets all `tags`: the modules are idempotent)."""

    tags: tuple[str, ...]
    hosts: tuple[str, ...]
    needed: dict[str, tuple[str, ...]]

    @property
    def empty(self) -> bool:
        return not self.hosts

    @property
    def everything(self) -> bool:
        """Every part on every host considered: plain site.yml, no --tags."""
        return set(self.tags) == set(PARTS)


def converge_scope(
    desired: Mapping[str, Mapping[str, str]],
    recorded: Mapping[str, Mapping[str, str]],
    hosts: list[str],
    *,
    full: bool = False,
) -> Scope:
    """The parts to run on `hosts` (the reachable ones) to bring them from `recorded` digests
    to `desired`: per host, those whose digest differs or is missing (all with `full`).
    A `proxy` run needs `services` (it reads what that task registers)."""
    needed: dict[str, tuple[str, ...]] = {}
    for host in hosts:
        want, have = desired.get(host, {}), recorded.get(host, {})
        parts = {p for p in PARTS if full or p not in have or have[p] != want.get(p)}
        if "proxy" in parts:
            parts.add("services")
        if parts:
            needed[host] = tuple(p for p in PARTS if p in parts)
    tags = {p for parts in needed.values() for p in parts}
    return Scope(
        tags=tuple(p for p in PARTS if p in tags),
        hosts=tuple(h for h in hosts if h in needed),
        needed=needed,
    )


def app_only(scope: Scope, before: Plan | None, stage: Plan) -> bool:
    """Whether a converge from `before` to `stage` that runs `scope` touches only the app part
    (images, pods, services) with no LoadBalancer IP coming or going (keepalived follows
    its config in site.yml's proxy role only): one play of pods and routing can do it."""
    if scope.empty or not set(scope.tags) <= set(APP_PARTS) or before is None:
        return False
    return _lb_ips(before) == _lb_ips(stage)


def _lb_ips(plan: Plan) -> set[str]:
    return {s.load_balancer_ip for s in plan.services if s.load_balancer_ip}
