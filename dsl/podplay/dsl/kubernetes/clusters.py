"""Which cluster a manifest runs on: Kubernetes YAML has no Cluster kind, so podplay adds one.

A `podplay.io/v1 Cluster` document in the manifest declares it:

    apiVersion: podplay.io/v1
    kind: Cluster
    metadata: {name: shop}
    spec: {nodes: 3}          # or inventory: hosts.yml; podCIDR, serviceCIDR, lbPool

Without one, `podplay up app.yaml` uses a local cluster named after the file (`app`) with
three nodes. Inside a Python program the program's own pp.Cluster serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from podplay.dsl.cluster import LOCAL_NAME_RE, Cluster
from podplay.dsl.diagnostics import Location, ProgramError, declared_at, show
from podplay.dsl.kubernetes.objects import KubeObject
from podplay.dsl.kubernetes.reader import Fields, Subject
from podplay.dsl.kubernetes.yamlfile import Located

DEFAULT_NODES = 3
SPEC = {  # Kubernetes-style name -> pp.Cluster argument
    "nodes": "nodes",
    "inventory": "inventory",
    "podCIDR": "pod_cidr",
    "serviceCIDR": "service_cidr",
    "lbPool": "lb_pool",
}
DEFAULT_SERVICE_CIDR = "10.96.0.0/16"


def service_cidr(obj: KubeObject | None) -> str:
    """The service CIDR a manifest's Cluster document asks for (before it is declared)."""
    if obj is None or obj.spec is None or not isinstance(obj.spec.value, dict):
        return DEFAULT_SERVICE_CIDR
    given = obj.spec.value.get("serviceCIDR")
    return (
        given.value if given is not None and isinstance(given.value, str) else DEFAULT_SERVICE_CIDR
    )


def declare_cluster(obj: KubeObject) -> Cluster:
    """A `podplay.io/v1 Cluster` document as the program's pp.Cluster."""
    subject = obj.subject
    kwargs: dict[str, Any] = {"name": obj.name}
    where: dict[str, tuple[str, Located]] = {}
    if obj.spec is not None:
        spec = Fields(subject, obj.spec, "spec", SPEC)
        for key, argument in SPEC.items():
            value = spec.get(key)
            if value is not None:
                kwargs[argument] = value.plain()
                where[argument] = (spec.path(key), value)
        nodes = spec.get("nodes")
        if nodes is not None and (
            isinstance(nodes.value, bool) or not isinstance(nodes.value, int)
        ):
            subject.fail(
                nodes,
                spec.path("nodes"),
                f"{show(nodes.plain())} must be a number of local nodes "
                "(real hosts: spec.inventory)",
            )
    if "inventory" not in kwargs:
        kwargs.setdefault("nodes", DEFAULT_NODES)
    with declared_at(subject.at(obj.node.line)), _as_manifest(subject, obj.node, where):
        return Cluster(**kwargs)


def default_cluster(stem: str, shown: str) -> Cluster:
    """The local cluster a manifest without a Cluster document runs on: named after the file."""
    if not LOCAL_NAME_RE.match(stem):
        raise ProgramError.one(
            Location(shown),
            f'Cluster "{stem}"',
            f"name {show(stem)} (from the file name) cannot name a local cluster: use 1 to 32 "
            'lowercase letters, digits and "-", starting with a letter and ending with a letter '
            "or digit; rename the file or add a podplay.io/v1 Cluster document that names it",
        )
    with declared_at(Location(shown)):
        return Cluster(stem, nodes=DEFAULT_NODES)


@contextmanager
def _as_manifest(
    subject: Subject, node: Located, where: dict[str, tuple[str, Located]]
) -> Iterator[None]:
    """pp.Cluster's own checks (CIDRs, pools, node counts), told in the manifest's names."""
    try:
        yield
    except ProgramError as err:
        message = err.diagnostics[0].message
        for argument, (path, value) in where.items():
            if message.startswith(argument + " "):
                subject.fail(value, path, message[len(argument) + 1 :])
        if message.startswith("name "):
            subject.fail(node, "metadata.name", message[len("name ") :])
        subject.fail(node, "", message)
