"""A pod template's containers: image, command, args, env, ports and resources.

What Kubernetes does with these that podplay must do the same way is done here: `$(VAR)`
references in command, args and env values are expanded as the kubelet expands them, and
requests and limits become the one value podplay has per resource (see `resources`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from podplay.dsl.diagnostics import show
from podplay.dsl.fields import cpu_millis, is_dns_label, is_env_name, is_image_ref, memory_bytes
from podplay.dsl.kubernetes.probes import PROBES, PortUse, read_probe
from podplay.dsl.kubernetes.reader import (
    Fields,
    Subject,
    child,
    port_number,
    sequence,
    string,
    strings,
)
from podplay.dsl.kubernetes.yamlfile import Located
from podplay.dsl.workload import Resources

CONTAINER_FIELDS = ("name", "image", "command", "args", "env", "ports", "resources", *PROBES)
# harmless: nothing is ever pulled, and podplay keeps no termination message
CONTAINER_IGNORED = ("imagePullPolicy", "terminationMessagePath", "terminationMessagePolicy")
# A port's protocols (SCTP is not offered) and the words that refuse another, for
# containers' and services' ports alike.
PROTOCOLS = ("TCP", "UDP")
PROTOCOL_REFUSAL = 'is not supported (only "TCP" or "UDP")'
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


@dataclass(frozen=True)
class PortDecl:
    """One entry of a container's `ports`, and where it was written."""

    number: int
    protocol: str
    name: str | None
    node: Located
    path: str


@dataclass
class ContainerDraft:
    """A container as read, before its image is resolved against the program's images."""

    name: str
    image: str
    image_node: Located
    image_path: str
    kwargs: dict[str, Any]  # pp.Container arguments besides name and image
    ports: list[PortDecl] = field(default_factory=list)
    probe_ports: list[PortUse] = field(default_factory=list)

    @property
    def port_names(self) -> dict[str, int]:
        """This container's named ports."""
        return {p.name: p.number for p in self.ports if p.name is not None}


def read_container(subject: Subject, node: Located, path: str) -> ContainerDraft:
    """One entry of `spec.template.spec.containers`."""
    fields = Fields(subject, node, path, CONTAINER_FIELDS, CONTAINER_IGNORED)
    name_node = fields.required("name")
    name = string(subject, name_node, fields.path("name"))
    if not is_dns_label(name):
        subject.fail(name_node, fields.path("name"), f"{show(name)} is not a valid name: " + _RULE)
    image_node = fields.required("image")
    image = string(subject, image_node, fields.path("image"))
    if not is_image_ref(image):
        subject.fail(
            image_node,
            fields.path("image"),
            f'{show(image)} is not an image reference like "busybox:1.36"',
        )
    ports = _ports(subject, fields)
    env = _env(subject, fields)
    kwargs: dict[str, Any] = {"env": env, "ports": sorted({p.number for p in ports})}
    for key in ("command", "args"):
        value = fields.get(key)
        if value is not None:
            kwargs[key] = [expand(s, env) for s in strings(subject, value, fields.path(key))]
    draft = ContainerDraft(name, image, image_node, fields.path("image"), kwargs, ports)
    resources = fields.get("resources")
    if resources is not None:
        kwargs["resources"] = read_resources(subject, resources, fields.path("resources"))
    for key, dsl_name in PROBES.items():
        probe_node = fields.get(key)
        if probe_node is not None:
            probe, port = read_probe(subject, probe_node, fields.path(key), key, draft.port_names)
            kwargs[dsl_name] = probe
            if port is not None:
                draft.probe_ports.append(port)
    return draft


_RULE = (
    'use lowercase letters, digits and "-", start and end with a letter or digit, at most 63 '
    "characters"
)


def _ports(subject: Subject, fields: Fields) -> list[PortDecl]:
    node = fields.get("ports")
    if node is None:
        return []
    out: list[PortDecl] = []
    for i, item in enumerate(sequence(subject, node, fields.path("ports"))):
        path = f"{fields.path('ports')}[{i}]"
        port = Fields(subject, item, path, ("containerPort", "name", "protocol"))
        number = port_number(subject, port.required("containerPort"), port.path("containerPort"))
        protocol = port.choice("protocol", "TCP", PROTOCOLS, PROTOCOL_REFUSAL)
        for j, other in enumerate(out):
            if (other.number, other.protocol) == (number, protocol):
                subject.fail(
                    item,
                    port.path("containerPort"),
                    f"{number}/{protocol} is already listed at {fields.path('ports')}[{j}]",
                )
        name = port.string("name")
        if name is not None:
            check_port_name(subject, port.required("name"), port.path("name"), name)
        out.append(PortDecl(number, protocol, name, item, path))
    return out


def check_port_name(subject: Subject, node: Located, path: str, name: str) -> None:
    """A port name as Kubernetes allows it (IANA service name): what a named port refers to."""
    if (
        len(name) > 15
        or _PORT_NAME.fullmatch(name) is None
        or "--" in name
        or not re.search("[a-z]", name)
    ):
        subject.fail(
            node,
            path,
            f"{show(name)} is not a valid port name: at most 15 lowercase letters, digits and "
            '"-", with at least one letter, starting and ending with a letter or digit',
        )


def _env(subject: Subject, fields: Fields) -> dict[str, str]:
    node = fields.get("env")
    if node is None:
        return {}
    env: dict[str, str] = {}
    lines: dict[str, int] = {}
    for i, item in enumerate(sequence(subject, node, fields.path("env"))):
        path = f"{fields.path('env')}[{i}]"
        var = Fields(subject, item, path, ("name", "value"))
        name_node = var.required("name")
        name = string(subject, name_node, var.path("name"))
        if not is_env_name(name):
            subject.fail(
                name_node,
                var.path("name"),
                f"{show(name)} is not a variable name podplay can set (letters, digits and _, "
                "not starting with a digit)",
            )
        if name in env:
            subject.fail(
                name_node, var.path("name"), f'"{name}" is already set by env[{lines[name]}]'
            )
        value = var.get("value")
        if value is not None and not isinstance(value.value, str):
            subject.fail(
                value,
                var.path("value"),
                f'{show(value.plain())} must be a string (quote it: "{value.plain()}")',
            )
        env[name] = expand(value.value if value is not None else "", env)
        lines[name] = i
    return env


def expand(text: str, env: dict[str, str]) -> str:
    """`$(NAME)` → NAME's value when defined (else left as written), `$$` → `$`: as the
    kubelet expands command, args and env values."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("$(", i):
            end = text.find(")", i + 2)
            if end != -1:
                name = text[i + 2 : end]
                out.append(env.get(name, text[i : end + 1]))
                i = end + 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


_QUANTITIES = {"cpu": (cpu_millis, "CPU"), "memory": (memory_bytes, "memory")}


def read_resources(subject: Subject, node: Located, path: str) -> Resources | None:
    """requests/limits → podplay's one value per resource, which it both reserves when placing
    pods and enforces as the container's limit: the limit when given (the container is never
    held tighter than Kubernetes would hold it), else the request."""
    fields = Fields(subject, node, path, ("requests", "limits"))
    amounts: dict[str, dict[str, tuple[Located, int]]] = {"requests": {}, "limits": {}}
    for part, found in amounts.items():
        part_node = fields.get(part)
        if part_node is None:
            continue
        part_fields = Fields(subject, part_node, fields.path(part), ("cpu", "memory"))
        for resource, (parse, what) in _QUANTITIES.items():
            value = part_fields.get(resource)
            if value is None:
                continue
            try:
                found[resource] = (value, parse(value.value))
            except ValueError as err:
                subject.fail(
                    value,
                    part_fields.path(resource),
                    f"{show(value.plain())} is not a {what} quantity: {err}",
                )
    chosen: dict[str, Any] = {}
    for resource in _QUANTITIES:
        request = amounts["requests"].get(resource)
        limit = amounts["limits"].get(resource)
        if request and limit and request[1] > limit[1]:
            subject.fail(
                request[0],
                child(fields.path("requests"), resource),
                f"{show(request[0].plain())} is more than {child(fields.path('limits'), resource)} "
                f"{show(limit[0].plain())} (a request must not exceed its limit)",
            )
        given = limit or request
        if given is not None:
            chosen[resource] = given[0].value
    return Resources(**chosen) if chosen else None
