"""Pod templates, their hashes, pod names and the pod manifests the agent runs.

The template hash covers everything that makes a pod different (images, command, env,
ports, probes, resources, labels, node selector, restart policy), so a changed template means
new pods, and an unchanged one keeps its pods. It leaves out the image id, which is unknown
to `compile` and known to `up`: the image reference already changes with the build context.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from podplay.dsl import (
    Deployment,
    ExecProbe,
    HttpProbe,
    Image,
    ProgramError,
    TcpProbe,
    Unresolved,
)
from podplay.node.contract.containers import ContainerPort, ContainerSpec, ProbeSpec, Resources
from podplay.node.contract.pods import Owner, PodSpec, cluster_dns
from podplay.plan.model import ImagePlan

HASH_LENGTH = 10
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' pod-name alphabet

Resolver = Callable[[Unresolved], Any]


def container_specs(
    deployment: Deployment, images: Mapping[str, ImagePlan], resolve: Resolver
) -> list[dict[str, Any]]:
    """The deployment's containers as the node contract spells them in a pod manifest."""
    out = []
    for i, c in enumerate(deployment.containers):
        if isinstance(c.image, Image):
            image = images[c.image.name]
            ref, image_id = image.ref, image.id
        else:
            ref, image_id = c.image, None
        resources = None
        if c.resources is not None:
            resources = Resources(c.resources.cpu_millis, c.resources.memory_bytes)
        env = {k: _env_value(deployment, i, k, v, resolve) for k, v in c.env.items()}
        spec = ContainerSpec(
            name=c.name,
            image=ref,
            image_id=image_id,
            command=None if c.command is None else tuple(c.command),
            args=None if c.args is None else tuple(c.args),
            env=tuple(env.items()),
            ports=tuple(ContainerPort(p) for p in c.ports),
            resources=resources,
            readiness=_probe(c.readiness),
            liveness=_probe(c.liveness),
            startup=_probe(c.startup),
        )
        out.append(spec.to_json())
    return out


def _probe(probe: HttpProbe | TcpProbe | ExecProbe | None) -> ProbeSpec | None:
    if probe is None:
        return None
    timing = {
        "period": probe.period,
        "timeout": probe.timeout,
        "failure_threshold": probe.failure_threshold,
        "success_threshold": probe.success_threshold,
        "initial_delay": probe.initial_delay,
    }
    if isinstance(probe, HttpProbe):
        return ProbeSpec(type="http", path=probe.path, port=probe.port, **timing)
    if isinstance(probe, TcpProbe):
        return ProbeSpec(type="tcp", port=probe.port, **timing)
    return ProbeSpec(type="exec", command=tuple(probe.command or ()), **timing)


def _env_value(deployment: Deployment, index: int, key: str, value: Any, resolve: Resolver) -> str:
    if not isinstance(value, Unresolved):
        return value
    resolved = resolve(value)
    if resolved is None:
        raise ProgramError.one(
            deployment.location,
            deployment.describe(),
            f'containers[{index}].env["{key}"] uses {value.describe()}, which is unknown until '
            "the cluster exists; create the cluster first or set lb_pool on the Cluster",
        )
    return str(resolved)


def pod_template(deployment: Deployment, containers: list[dict[str, Any]]) -> dict[str, Any]:
    """What all pods of the deployment share; its hash names the pods."""
    return {
        "labels": dict(deployment.labels),
        "node_selector": dict(deployment.node_selector),
        "restart_policy": deployment.restart_policy,
        "termination_grace_period": deployment.termination_grace_period,
        "containers": containers,
    }


def template_hash(template: dict[str, Any]) -> str:
    """A short stable hash of the template, the image ids left out."""
    hashed = {
        **template,
        "containers": [
            {k: v for k, v in c.items() if k != "image_id"} for c in template["containers"]
        ],
    }
    text = json.dumps(hashed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def pod_name(deployment: str, namespace: str, hash_: str, serial: int, salt: int = 0) -> str:
    """`web-5d9c8f7b6a-x7k2p`: deployment, template hash, 5 characters from the serial."""
    seed = f"{namespace}/{deployment}/{hash_}/{serial}/{salt}".encode()
    number = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
    suffix = ""
    for _ in range(5):
        number, digit = divmod(number, len(_SUFFIX_ALPHABET))
        suffix += _SUFFIX_ALPHABET[digit]
    return f"{deployment}-{hash_}-{suffix}"


def pod_uid(namespace: str, name: str, hash_: str) -> str:
    """A stable UUID-shaped id for the pod (the node README's `uid`)."""
    digest = hashlib.sha256(f"{namespace}/{name}/{hash_}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def template_containers(template: dict[str, Any], where: str) -> tuple[ContainerSpec, ...]:
    """The template's containers read through the node contract (`where` starts messages):
    once per deployment, as every pod of it has the same."""
    return tuple(
        ContainerSpec.from_json(c, f"{where}: containers[{i}]")
        for i, c in enumerate(template["containers"])
    )


def pod_manifest(
    *,
    name: str,
    namespace: str,
    deployment: str,
    template: dict[str, Any],
    hash_: str,
    ip: str,
    dns_ip: str,
    cluster_domain: str,
    containers: tuple[ContainerSpec, ...] | None = None,
) -> dict[str, Any]:
    """The pod file `/etc/podplay/pods/<namespace>_<name>.json` (the node contract's PodSpec);
    `containers`: the template's, when already read (`template_containers`)."""
    if containers is None:
        containers = template_containers(template, f"{namespace}/{name}")
    spec = PodSpec(
        name=name,
        namespace=namespace,
        uid=pod_uid(namespace, name, hash_),
        ip=ip,
        hostname=name,
        containers=containers,
        labels=tuple(template["labels"].items()),
        template_hash=hash_,
        restart_policy=template["restart_policy"],
        grace_period=template["termination_grace_period"],
        dns=cluster_dns(namespace, dns_ip, cluster_domain),
        owner=Owner("Deployment", deployment),
    )
    return spec.to_json()
