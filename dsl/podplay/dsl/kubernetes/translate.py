"""A manifest's objects declared as DSL resources in the stack being evaluated.

Everything is read first (in the order written, so the first problem in the file is the one
reported), then declared: the Cluster, then each Deployment with its images, then each
Service with its named ports resolved. Each resource is located at its `metadata.name` line,
so later messages about it (a duplicate name, a selector that matches nothing) point there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TypeVar

from podplay.dsl.cluster import Cluster
from podplay.dsl.diagnostics import ProgramError, caller_location, declared_at
from podplay.dsl.kubernetes.clusters import (
    DEFAULT_SERVICE_CIDR,
    declare_cluster,
    default_cluster,
    service_cidr,
)
from podplay.dsl.kubernetes.containers import ContainerDraft
from podplay.dsl.kubernetes.deployments import DeploymentDraft, read_deployment
from podplay.dsl.kubernetes.objects import KubeObject, read_objects
from podplay.dsl.kubernetes.reader import Subject
from podplay.dsl.kubernetes.services import ServiceDraft, read_service, service_ports
from podplay.dsl.kubernetes.yamlfile import read_documents
from podplay.dsl.service import Service
from podplay.dsl.stack import Stack
from podplay.dsl.workload import Container, Deployment, Image

R = TypeVar("R", Deployment, Service)


@dataclass
class Manifest:
    """What a manifest declared, for the program to use: `m.service("web").node_port()`."""

    file: str
    cluster: Cluster | None = None
    deployments: list[Deployment] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)

    def deployment(self, name: str, namespace: str = "default") -> Deployment:
        """The manifest's Deployment `name`."""
        return _find(self.file, "Deployment", self.deployments, name, namespace)

    def service(self, name: str, namespace: str = "default") -> Service:
        """The manifest's Service `name`."""
        return _find(self.file, "Service", self.services, name, namespace)


def _find(file: str, kind: str, found: list[R], name: str, namespace: str) -> R:
    for item in found:
        if (item.name, item.namespace) == (name, namespace):
            return item
    names = ", ".join(f'"{i.name}"' for i in found) or "none"
    raise ProgramError.one(
        caller_location(),
        None,
        f'{file} declares no {kind} "{name}" in namespace "{namespace}" (its {kind}s: {names})',
    )


def declare_manifest(text: str, shown: str, stack: Stack, default_stem: str | None) -> Manifest:
    """Declare the manifest `text` (named `shown` in messages) in `stack`.

    `default_stem` names the local cluster to declare when the manifest has no Cluster
    document (a manifest run on its own); None inside a program, which has its own."""
    objects = list(read_objects(read_documents(text, shown), shown))
    clusters = [o for o in objects if o.kind == "Cluster"]
    if len(clusters) > 1:
        clusters[1].subject.fail(
            clusters[1].line,
            "",
            f"a manifest declares one Cluster (the first is at line {clusters[0].line})",
        )
    cidr = _service_cidr(clusters[0] if clusters else None, stack, default_stem)
    drafts: list[tuple[KubeObject, DeploymentDraft | ServiceDraft]] = []
    for obj in objects:
        if obj.kind == "Deployment":
            drafts.append((obj, read_deployment(obj.subject, obj.spec, obj.namespace)))
        elif obj.kind == "Service":
            drafts.append((obj, read_service(obj.subject, obj.spec, obj.namespace, cidr)))
    manifest = Manifest(shown)
    if clusters:
        manifest.cluster = declare_cluster(clusters[0])
    elif default_stem is not None:
        manifest.cluster = default_cluster(default_stem, shown)
    deployments = [d for _, d in drafts if isinstance(d, DeploymentDraft)]
    for obj, draft in drafts:
        with declared_at(obj.subject.at(obj.line)):
            if isinstance(draft, DeploymentDraft):
                containers = [_container(stack, c, obj.subject) for c in draft.containers]
                manifest.deployments.append(
                    Deployment(obj.name, containers=containers, **draft.kwargs)
                )
            else:
                ports = service_ports(draft, deployments)
                extra = {"ports": ports} if ports else {}
                manifest.services.append(Service(obj.name, **draft.kwargs, **extra))
    return manifest


def _service_cidr(cluster: KubeObject | None, stack: Stack, default_stem: str | None) -> str | None:
    """The service CIDR explicit ClusterIPs must be in, when it is known while reading."""
    if cluster is not None:
        return service_cidr(cluster)
    if stack.cluster is not None:
        return stack.cluster.service_cidr
    return DEFAULT_SERVICE_CIDR if default_stem is not None else None


def _container(stack: Stack, draft: ContainerDraft, subject: Subject) -> Container:
    with declared_at(subject.at(draft.image_node)):
        image = _image(stack, draft, subject)
    return Container(draft.name, image=image, **draft.kwargs)


def _image(stack: Stack, draft: ContainerDraft, subject: Subject) -> Image:
    """The program's pp.Image this container names (by its name, `podplay/<name>` or its
    ref=), else an Image of the local engine's, declared here (checked when images are)."""
    ref = draft.image
    for image in stack.images.values():
        if ref in (image.name, f"podplay/{image.name}") or image.ref == ref:
            return image
    image = Image(_image_name(ref, stack), ref=ref)
    image._used_by = (str(subject), draft.image_path)
    return image


def _image_name(ref: str, stack: Stack) -> str:
    """A name for a referenced image, from its reference: `nginx:1.14.2` → `nginx-1-14-2`."""
    base = re.sub(r"[^a-z0-9]+", "-", ref.lower()).strip("-")
    digest = hashlib.sha256(ref.encode()).hexdigest()[:8]
    if len(base) > 40:
        base = f"{base[:31].rstrip('-')}-{digest}"
    if base in stack.images:
        base = f"{base[:40].rstrip('-')}-{digest}"
    return base or f"image-{digest}"
