"""`v1 Service` → a draft of a pp.Service: type, selector, ports, affinity, addresses.

A named `targetPort` is resolved against the container ports of the Deployments in the same
manifest that the selector selects, as the endpoints controller resolves it per pod; podplay
needs one number, so the selected pods must agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podplay.dsl.diagnostics import show
from podplay.dsl.fields import NODE_PORT_RANGE, is_dns_label, is_dns_subdomain
from podplay.dsl.kubernetes.containers import PROTOCOL_REFUSAL, PROTOCOLS, check_port_name
from podplay.dsl.kubernetes.deployments import DeploymentDraft
from podplay.dsl.kubernetes.reader import Fields, Subject, labels, port_number, sequence, strings
from podplay.dsl.kubernetes.yamlfile import Located
from podplay.dsl.network import check_cluster_ip, parse_address
from podplay.dsl.service import SERVICE_TYPES, ServicePort

SPEC = (
    "type",
    "selector",
    "ports",
    "sessionAffinity",
    "sessionAffinityConfig",
    "externalName",
    "clusterIP",
    "clusterIPs",
    "loadBalancerIP",
)
SPEC_DEFAULTS = {  # what podplay does (`kubectl get -o yaml` prints these)
    "externalTrafficPolicy": "Cluster",
    "internalTrafficPolicy": "Cluster",
    "ipFamilyPolicy": "SingleStack",
    "ipFamilies": ["IPv4"],
    "publishNotReadyAddresses": False,
    "allocateLoadBalancerNodePorts": True,
}
_NOT_FOR_EXTERNAL_NAME = ("selector", "ports", "clusterIP", "clusterIPs", "loadBalancerIP")


@dataclass
class PortDraft:
    """One service port; `target` may be a port name still to resolve."""

    kwargs: dict[str, Any]
    target: int | str | None
    target_node: Located | None
    path: str


@dataclass
class ServiceDraft:
    """A Service as read; named target ports are resolved once every Deployment is read."""

    subject: Subject
    namespace: str
    kwargs: dict[str, Any]
    ports: list[PortDraft] = field(default_factory=list)


def read_service(
    subject: Subject, spec_node: Located, namespace: str, service_cidr: str | None
) -> ServiceDraft:
    """The `spec` of a Service named by `subject` (`service_cidr` when the cluster is known)."""
    spec = Fields(subject, spec_node, "spec", SPEC, (), SPEC_DEFAULTS)
    kind = spec.string("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        expected = ", ".join(f'"{t}"' for t in SERVICE_TYPES)
        subject.fail(spec.get("type"), spec.path("type"), f"{show(kind)} must be one of {expected}")
    kwargs: dict[str, Any] = {"type": kind, "namespace": namespace}
    draft = ServiceDraft(subject, namespace, kwargs)
    if kind == "ExternalName":
        _external_name(subject, spec, kwargs)
        _affinity(subject, spec, kwargs)
        return draft
    if spec.get("externalName") is not None:
        subject.fail(
            spec.get("externalName"), spec.path("externalName"), "is only for type ExternalName"
        )
    selector = spec.required(
        "selector", " (podplay has no Endpoints objects: a service selects pods by labels)"
    )
    kwargs["selector"] = labels(subject, selector, spec.path("selector"))
    if not kwargs["selector"]:
        subject.fail(selector, spec.path("selector"), "must not be empty (it would select no pods)")
    draft.ports = _ports(subject, spec, kind)
    _affinity(subject, spec, kwargs)
    _addresses(subject, spec, kind, kwargs, service_cidr)
    return draft


def _external_name(subject: Subject, spec: Fields, kwargs: dict[str, Any]) -> None:
    for key in _NOT_FOR_EXTERNAL_NAME:
        if spec.get(key) is not None:
            subject.fail(
                spec.get(key),
                spec.path(key),
                "is not supported for type ExternalName (it proxies nothing)",
            )
    node = spec.required("externalName", " for type ExternalName (the DNS name to answer)")
    name = spec.string("externalName") or ""
    if not is_dns_subdomain(name):
        subject.fail(
            node,
            spec.path("externalName"),
            f"{show(name)} is not a valid DNS name like billing.example.test",
        )
    kwargs["external_name"] = name


def _affinity(subject: Subject, spec: Fields, kwargs: dict[str, Any]) -> None:
    affinity = spec.choice(
        "sessionAffinity", "None", ("None", "ClientIP"), 'must be "None" or "ClientIP"'
    )
    config = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        if kwargs["type"] == "ExternalName":
            subject.fail(
                spec.get("sessionAffinity"),
                spec.path("sessionAffinity"),
                "is not supported for type ExternalName (it proxies nothing)",
            )
        kwargs["session_affinity"] = "ClientIP"
    if config is None:
        return
    if affinity != "ClientIP":
        subject.fail(
            config, spec.path("sessionAffinityConfig"), 'is only for sessionAffinity "ClientIP"'
        )
    client = Fields(subject, config, spec.path("sessionAffinityConfig"), ("clientIP",))
    client_ip = client.get("clientIP")
    if client_ip is not None:
        timeout = Fields(subject, client_ip, client.path("clientIP"), ("timeoutSeconds",))
        seconds = timeout.integer("timeoutSeconds", minimum=1)
        if seconds is not None:
            if seconds > 86400:
                subject.fail(
                    timeout.get("timeoutSeconds"),
                    timeout.path("timeoutSeconds"),
                    f"{seconds} is outside 1-86400",
                )
            kwargs["affinity_timeout"] = seconds


def _addresses(
    subject: Subject, spec: Fields, kind: str, kwargs: dict[str, Any], service_cidr: str | None
) -> None:
    ip = spec.string("clusterIP", "") or ""
    many = spec.get("clusterIPs")
    if many is not None:
        listed = strings(subject, many, spec.path("clusterIPs"))
        if len(listed) != 1 or (ip and listed != [ip]):
            subject.fail(
                many,
                spec.path("clusterIPs"),
                f"{show(listed)} is not supported (one IPv4 ClusterIP, the same as clusterIP)",
            )
        ip = listed[0]
    if ip == "None":
        subject.fail(
            spec.get("clusterIP") or many,
            spec.path("clusterIP"),
            '"None" (a headless service) is not supported',
        )
    if ip:
        where = spec.get("clusterIP") or many
        try:
            parse_address(ip)
        except ValueError as err:
            subject.fail(where, spec.path("clusterIP"), f"{show(ip)} {err}")
        why = check_cluster_ip(ip, service_cidr) if service_cidr else None
        if why:
            subject.fail(where, spec.path("clusterIP"), f"{show(ip)} {why}")
        kwargs["static_cluster_ip"] = ip
    lb_ip = spec.string("loadBalancerIP")
    if lb_ip is not None:
        node = spec.get("loadBalancerIP")
        if kind != "LoadBalancer":
            subject.fail(
                node, spec.path("loadBalancerIP"), f"is only for type LoadBalancer, not {kind}"
            )
        try:
            parse_address(lb_ip)
        except ValueError as err:
            subject.fail(node, spec.path("loadBalancerIP"), f"{show(lb_ip)} {err}")
        kwargs["load_balancer_ip"] = lb_ip


def _ports(subject: Subject, spec: Fields, kind: str) -> list[PortDraft]:
    node = spec.required("ports", f" for type {kind}")
    items = sequence(subject, node, spec.path("ports"))
    if not items:
        subject.fail(node, spec.path("ports"), f"must list at least one port for type {kind}")
    out: list[PortDraft] = []
    for i, item in enumerate(items):
        path = f"{spec.path('ports')}[{i}]"
        port = Fields(subject, item, path, ("port", "targetPort", "nodePort", "protocol", "name"))
        kwargs: dict[str, Any] = {
            "port": port_number(subject, port.required("port"), port.path("port"))
        }
        protocol = port.choice("protocol", "TCP", PROTOCOLS, PROTOCOL_REFUSAL)
        kwargs["protocol"] = protocol
        _port_name(subject, port, kwargs, len(items), out)
        _node_port(subject, port, kind, kwargs)
        for j, other in enumerate(out):
            if (other.kwargs["port"], other.kwargs["protocol"]) == (kwargs["port"], protocol):
                subject.fail(
                    item,
                    port.path("port"),
                    f"{kwargs['port']}/{protocol} is already used by {spec.path('ports')}[{j}]",
                )
        out.append(PortDraft(kwargs, *_target(subject, port), path))
    return out


def _port_name(
    subject: Subject, port: Fields, kwargs: dict[str, Any], count: int, seen: list[PortDraft]
) -> None:
    name = port.string("name")
    if name is None:
        if count > 1:
            subject.fail(
                port.node, port.path("name"), "is required when a service has several ports"
            )
        return
    if not is_dns_label(name):
        subject.fail(
            port.get("name"),
            port.path("name"),
            f'{show(name)} is not a valid name: use lowercase letters, digits and "-", start '
            "and end with a letter or digit, at most 63 characters",
        )
    for j, other in enumerate(seen):
        if other.kwargs.get("name") == name:
            subject.fail(
                port.get("name"), port.path("name"), f'"{name}" is already used by spec.ports[{j}]'
            )
    kwargs["name"] = name


def _node_port(subject: Subject, port: Fields, kind: str, kwargs: dict[str, Any]) -> None:
    node = port.get("nodePort")
    if node is None:
        return
    number = port_number(subject, node, port.path("nodePort"))
    if kind not in ("NodePort", "LoadBalancer"):
        subject.fail(
            node, port.path("nodePort"), f"is only for type NodePort or LoadBalancer, not {kind}"
        )
    low, high = NODE_PORT_RANGE
    if not low <= number <= high:
        subject.fail(node, port.path("nodePort"), f"{number} is outside {low}-{high}")
    kwargs["node_port"] = number


def _target(subject: Subject, port: Fields) -> tuple[int | str | None, Located | None]:
    node = port.get("targetPort")
    if node is None:
        return None, None
    if isinstance(node.value, str):
        check_port_name(subject, node, port.path("targetPort"), node.value)
        return node.value, node
    return port_number(subject, node, port.path("targetPort")), node


def service_ports(draft: ServiceDraft, deployments: list[DeploymentDraft]) -> list[ServicePort]:
    """The draft's ports as pp.ServicePorts, named target ports resolved to numbers."""
    out = []
    for port in draft.ports:
        target = port.target
        if isinstance(target, str):
            target = _resolve(draft, port, target, deployments)
        kwargs = dict(port.kwargs)
        if target is not None:
            kwargs["target_port"] = target
        out.append(ServicePort(**kwargs))
    return out


def _resolve(
    draft: ServiceDraft, port: PortDraft, name: str, deployments: list[DeploymentDraft]
) -> int:
    selector = draft.kwargs["selector"]
    path = f"{port.path}.targetPort"
    chosen = [
        d
        for d in deployments
        if d.namespace == draft.namespace and selector.items() <= d.labels.items()
    ]
    if not chosen:
        draft.subject.fail(
            port.target_node,
            path,
            f"{show(name)} cannot be resolved: the selector {show(selector)} selects no "
            "Deployment of this manifest (a named port is looked up in the selected pods)",
        )
    numbers: dict[int, str] = {}
    for d in chosen:
        if name not in d.port_names:
            names = ", ".join(sorted(d.port_names)) or "none"
            draft.subject.fail(
                port.target_node,
                path,
                f"{show(name)} is not a port name of the pods of {d.subject} that the selector "
                f"selects (their named ports: {names})",
            )
        numbers.setdefault(d.port_names[name], str(d.subject))
    if len(numbers) > 1:
        found = ", ".join(f"{n} in {who}" for n, who in sorted(numbers.items()))
        draft.subject.fail(
            port.target_node,
            path,
            f"{show(name)} names different ports in the selected pods ({found}); podplay "
            "needs one number",
        )
    return next(iter(numbers))
