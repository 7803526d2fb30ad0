"""Builders for agent unit tests: manifests, specs and observed containers, no Docker."""

from __future__ import annotations

import copy
import json
from typing import Any

from podplay.node.agent.manifest import PodSpec, parse_manifest
from podplay.node.agent.observed import Observed

CIDR = "10.244.1.0/24"

BASE: dict[str, Any] = {
    "apiVersion": "podplay/v1",
    "kind": "Pod",
    "name": "web-1",
    "namespace": "default",
    "uid": "u1",
    "labels": {"app": "web"},
    "template_hash": "t1",
    "ip": "10.244.1.5",
    "hostname": "web-1",
    "restart_policy": "Always",
    "termination_grace_period": 30,
    "dns": {
        "nameservers": ["10.96.0.10"],
        "searches": ["default.svc.cluster.local"],
        "options": ["ndots:5"],
    },
    "containers": [
        {
            "name": "web",
            "image": "podplay/web:1",
            "image_id": "sha256:aa",
            "command": None,
            "args": None,
            "env": {"MODE": "prod"},
            "ports": [{"container_port": 8080, "protocol": "TCP", "name": None}],
            "resources": {"cpu_millis": 250, "memory_bytes": 67108864},
            "readiness": {
                "type": "http",
                "path": "/healthz",
                "port": 8080,
                "period": 10,
                "timeout": 1,
                "failure_threshold": 3,
                "success_threshold": 1,
                "initial_delay": 0,
            },
            "liveness": None,
            "startup": None,
        },
    ],
}


def manifest(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc.update(changes)
    if "name" in changes and "hostname" not in changes:
        doc["hostname"] = changes["name"]
    return doc


def spec(**changes: Any) -> PodSpec:
    doc = manifest(**changes)
    fname = f"{doc['namespace']}_{doc['name']}.json"
    out = parse_manifest(fname, json.dumps(doc).encode(), CIDR)
    assert isinstance(out, PodSpec), out
    return out


def obs(
    pod: PodSpec,
    container: str,
    attempt: int = 0,
    state: str = "running",
    *,
    id: str | None = None,
    exit_code: int | None = None,
    started_at: float | None = -1.0,
    finished_at: float | None = None,
    config_hash: str | None = None,
    uid: str | None = None,
) -> Observed:
    """A container as the runtime would report it for `pod`."""
    if config_hash is None:
        config_hash = (
            pod.sandbox_hash if container == "POD" else pod.container(container).config_hash
        )
    if state == "exited" and exit_code is None:
        exit_code = 1
    if state == "exited" and finished_at is None:
        finished_at = 200.0
    if started_at == -1.0:  # default: running since 100, or ran for one second before exiting
        started_at = finished_at - 1.0 if state == "exited" else 100.0
    return Observed(
        id=id or f"{pod.name}-{container}-{attempt}",
        name=f"pp_{pod.name}_{container}_{attempt}",
        namespace=pod.namespace,
        pod=pod.name,
        container=container,
        uid=uid or pod.uid,
        attempt=attempt,
        config_hash=config_hash,
        grace_period=pod.grace_period,
        state=state,
        exit_code=exit_code,
        started_at=started_at,
        finished_at=finished_at,
    )
