"""The objects of a manifest: what kind each document is, and its metadata.

Multi-document YAML and `kind: List` are both read; every object is checked for an
apiVersion and kind podplay implements and for metadata it can honour before its spec is
read, so a StatefulSet is refused as a StatefulSet, not as a Deployment with odd fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from podplay.dsl.diagnostics import Location, ProgramError, show
from podplay.dsl.fields import is_dns_label
from podplay.dsl.kubernetes.reader import Fields, Subject, labels, sequence, string
from podplay.dsl.kubernetes.yamlfile import Located
from podplay.dsl.workload import MAX_DEPLOYMENT_NAME

API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "Cluster": "podplay.io/v1",
    "List": "v1",
}
READS = "podplay reads apps/v1 Deployment, v1 Service, v1 List and podplay.io/v1 Cluster"
TOP_IGNORED = ("status",)  # what the cluster reported; podplay decides it anew
META = ("name", "namespace", "labels")
# harmless: written by the API server or by tools, meaning nothing to podplay
META_IGNORED = (
    "annotations",
    "creationTimestamp",
    "resourceVersion",
    "uid",
    "generation",
    "managedFields",
    "selfLink",
)
_NAME_RULE = 'use lowercase letters, digits and "-", start and end with a letter or digit'


@dataclass(frozen=True)
class KubeObject:
    """One object of the manifest, its metadata checked; `spec` is read by its kind's reader."""

    kind: str
    subject: Subject
    name: str
    namespace: str
    node: Located
    spec: Located | None
    line: int  # of metadata.name: where the resource is declared


def read_objects(documents: list[Located], shown: str) -> Iterator[KubeObject]:
    """Every object, in the order written (the items of a List where the List is)."""
    for i, doc in enumerate(documents, start=1):
        yield from _objects(doc, f"document {i}", shown)


def _objects(node: Located, what: str, shown: str) -> Iterator[KubeObject]:
    if not isinstance(node.value, dict):
        raise ProgramError.one(
            Location(shown, node.key_line),
            None,
            f"{what} is not a mapping (a Kubernetes object: apiVersion, kind, metadata, spec)",
        )
    kind_node = node.value.get("kind")
    if kind_node is None or kind_node.value is None:
        raise ProgramError.one(
            Location(shown, node.line),
            None,
            f"{what} has no kind (say what it is: apiVersion and kind)",
        )
    subject = Subject(shown, str(kind_node.value), _peek_name(node))
    kind = string(subject, kind_node, "kind")
    if kind not in API_VERSIONS:
        subject.fail(kind_node, "kind", f"{show(kind)} is not supported ({READS})")
    version_node = node.value.get("apiVersion")
    if version_node is None or version_node.value is None:
        subject.fail(node, "apiVersion", f"is required ({API_VERSIONS[kind]} for a {kind})")
    if version_node.value != API_VERSIONS[kind]:
        subject.fail(
            version_node,
            "apiVersion",
            f"{show(version_node.plain())} is not supported for a {kind} "
            f"(use {API_VERSIONS[kind]})",
        )
    if kind == "List":
        fields = Fields(subject, node, "", ("apiVersion", "kind", "items"), ("metadata",))
        items = fields.get("items")
        for i, item in enumerate(sequence(subject, items, "items") if items else []):
            yield from _objects(item, f"items[{i}]", shown)
        return
    fields = Fields(subject, node, "", ("apiVersion", "kind", "metadata", "spec"), TOP_IGNORED)
    name, namespace, line = _metadata(subject, fields)
    spec = fields.get("spec")
    if spec is None and kind != "Cluster":
        subject.fail(node, "spec", "is required")
    yield KubeObject(kind, subject, name, namespace, node, spec, line)


def _peek_name(node: Located) -> str | None:
    meta = node.value.get("metadata")
    if meta is not None and isinstance(meta.value, dict):
        name = meta.value.get("name")
        if name is not None and isinstance(name.value, str):
            return name.value
    return None


def _metadata(subject: Subject, fields: Fields) -> tuple[str, str, int]:
    meta = Fields(subject, fields.required("metadata"), "metadata", META, META_IGNORED)
    name_node = meta.required("name")
    name = string(subject, name_node, meta.path("name"))
    problem = _name_problem(subject.kind, name)
    if problem:
        subject.fail(name_node, meta.path("name"), f"{show(name)} {problem}")
    namespace = meta.string("namespace", "default") or "default"
    if not is_dns_label(namespace):
        subject.fail(
            meta.get("namespace"),
            meta.path("namespace"),
            f"{show(namespace)} is not a valid namespace: {_NAME_RULE}, at most 63 characters",
        )
    if subject.kind == "Cluster" and meta.get("namespace") is not None:
        subject.fail(
            meta.get("namespace"), meta.path("namespace"), "is not supported (a Cluster has none)"
        )
    labels_node = meta.get("labels")
    if labels_node is not None:  # checked, as the API server would; they select nothing here
        labels(subject, labels_node, meta.path("labels"))
    return name, namespace, name_node.key_line


def _name_problem(kind: str, name: str) -> str | None:
    if kind == "Service":
        first = name[:1]
        if not is_dns_label(name) or not first.isalpha():
            return (
                'is not a valid service name: use lowercase letters, digits and "-", start '
                "with a letter and end with a letter or digit, at most 63 characters (it "
                "becomes a DNS name)"
            )
        return None
    if not is_dns_label(name):
        return f"is not a valid name: {_NAME_RULE}, at most 63 characters"
    if kind == "Deployment" and len(name) > MAX_DEPLOYMENT_NAME:
        return (
            f"is too long: at most {MAX_DEPLOYMENT_NAME} characters so that pod names "
            "(name-hash-suffix) stay within 63"
        )
    return None
