"""The containers of a pod manifest: image, command, env, ports, resources and probes.

Records are immutable; `from_json` reads one container (or probe) of a manifest, raising
ContractError naming the field, and `to_json` spells it as the node README does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from podplay.node.contract import fields
from podplay.node.contract.errors import ContractError

PROBE_TYPES = ("http", "tcp", "exec")
PROTOCOLS = ("TCP", "UDP", "SCTP")
MIN_MEMORY = 6 * 1024 * 1024  # Docker's minimum memory limit

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

# The fields of each object, in the order `to_json` writes them.
CONTAINER_FIELDS = ("name", "image", "image_id", "command", "args", "env", "ports",
                    "resources", "readiness", "liveness", "startup")  # fmt: skip
PORT_FIELDS = ("container_port", "protocol", "name")
RESOURCE_FIELDS = ("cpu_millis", "memory_bytes")
PROBE_FIELDS = ("type", "path", "port", "command", "period", "timeout", "failure_threshold",
                "success_threshold", "initial_delay")  # fmt: skip


@dataclass(frozen=True)
class ProbeSpec:
    """One probe (liveness, readiness or startup), Kubernetes defaults filled in."""

    type: str
    port: Optional[int] = None
    path: str = "/"
    command: Tuple[str, ...] = ()
    period: float = 10
    timeout: float = 1
    failure_threshold: int = 3
    success_threshold: int = 1
    initial_delay: float = 0

    @classmethod
    def from_json(cls, doc: Any, where: str) -> Optional[ProbeSpec]:
        """`where`: the path of the probe ("f: containers[0].readiness"); null is no probe."""
        return None if doc is None else _probe(doc, where)

    def to_json(self) -> Dict[str, Any]:
        doc: Dict[str, Any] = {"type": self.type}
        if self.type == "http":
            doc.update(path=self.path, port=self.port)
        elif self.type == "tcp":
            doc["port"] = self.port
        else:
            doc["command"] = list(self.command)
        doc.update(
            period=self.period,
            timeout=self.timeout,
            failure_threshold=self.failure_threshold,
            success_threshold=self.success_threshold,
            initial_delay=self.initial_delay,
        )
        return doc


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    protocol: str = "TCP"
    name: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        return {"container_port": self.container_port, "protocol": self.protocol, "name": self.name}


@dataclass(frozen=True)
class Resources:
    """Limits; None leaves one unlimited."""

    cpu_millis: Optional[int] = None
    memory_bytes: Optional[int] = None

    def to_json(self) -> Dict[str, Any]:
        return {"cpu_millis": self.cpu_millis, "memory_bytes": self.memory_bytes}


@dataclass(frozen=True)
class ContainerSpec:
    """One app container of a pod. `env` keeps the manifest's order."""

    name: str
    image: str
    image_id: Optional[str] = None
    command: Optional[Tuple[str, ...]] = None
    args: Optional[Tuple[str, ...]] = None
    env: Tuple[Tuple[str, str], ...] = ()
    ports: Tuple[ContainerPort, ...] = ()
    resources: Optional[Resources] = None
    readiness: Optional[ProbeSpec] = None
    liveness: Optional[ProbeSpec] = None
    startup: Optional[ProbeSpec] = None

    @classmethod
    def from_json(cls, doc: Any, where: str) -> ContainerSpec:
        """`where`: the path of the container ("f: containers[0]")."""
        return _container(doc, where)

    @property
    def cpu_millis(self) -> Optional[int]:
        return self.resources.cpu_millis if self.resources else None

    @property
    def memory_bytes(self) -> Optional[int]:
        return self.resources.memory_bytes if self.resources else None

    @property
    def config_hash(self) -> str:
        """Hash of everything that needs a new container when it changes (probes do not).

        Containers carry it as a label: the parts and their order must stay as they are, or
        a new agent would replace every running container."""
        return stable_hash(
            [
                self.name,
                self.image,
                self.image_id,
                self.command,
                self.args,
                tuple(sorted(self.env)),
                self.cpu_millis,
                self.memory_bytes,
            ]
        )

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "image_id": self.image_id,
            "command": None if self.command is None else list(self.command),
            "args": None if self.args is None else list(self.args),
            "env": dict(self.env),
            "ports": [p.to_json() for p in self.ports],
            "resources": self.resources.to_json() if self.resources else None,
            "readiness": self.readiness.to_json() if self.readiness else None,
            "liveness": self.liveness.to_json() if self.liveness else None,
            "startup": self.startup.to_json() if self.startup else None,
        }


def stable_hash(parts: List[Any]) -> str:
    """A short hash of `parts` (records by their repr): the same parts, the same hash."""
    text = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _container(doc: Any, where: str) -> ContainerSpec:
    if not isinstance(doc, dict):
        raise ContractError("%s: expected an object, got %s" % (where, fields.kind(doc)))
    fields.only(doc, CONTAINER_FIELDS, where, ".")
    name = fields.dns_label(doc, "name", where, sep=".")
    image = fields.string(doc, "image", where, sep=".")
    env = doc.get("env") or {}
    if not isinstance(env, dict):
        raise ContractError("%s.env: expected an object of strings" % where)
    for k, v in env.items():
        if not _ENV_NAME.match(k) or not isinstance(v, str):
            raise ContractError(
                "%s.env.%s: expected a variable name with a string value, got %s"
                % (where, k, fields.kind(v))
            )
    ports = _ports(doc.get("ports"), where)
    resources = _resources(doc.get("resources"), where)
    return ContainerSpec(
        name=name,
        image=image,
        image_id=fields.optional(doc, "image_id", where, str, sep=".") or None,
        command=fields.argv(doc.get("command"), where + ".command"),
        args=fields.argv(doc.get("args"), where + ".args"),
        env=fields.string_pairs(env),
        ports=ports,
        resources=resources,
        readiness=ProbeSpec.from_json(doc.get("readiness"), where + ".readiness"),
        liveness=ProbeSpec.from_json(doc.get("liveness"), where + ".liveness"),
        startup=ProbeSpec.from_json(doc.get("startup"), where + ".startup"),
    )


def _ports(raw: Any, where: str) -> Tuple[ContainerPort, ...]:
    raw = raw or []
    if not isinstance(raw, list):
        raise ContractError("%s.ports: expected a list or null, got %s" % (where, fields.kind(raw)))
    out = []
    for i, p in enumerate(raw):
        at = "%s.ports[%d]" % (where, i)
        entry = p if isinstance(p, dict) else {}
        fields.only(entry, PORT_FIELDS, at, ".")
        number = fields.port(entry.get("container_port"), at + ".container_port")
        protocol = fields.optional(entry, "protocol", at, str, sep=".") or "TCP"
        if protocol not in PROTOCOLS:
            raise ContractError(
                "%s.protocol: %r is not one of %s" % (at, protocol, ", ".join(PROTOCOLS))
            )
        name = fields.optional(entry, "name", at, str, sep=".")
        out.append(ContainerPort(number, protocol, name))
    return tuple(out)


def _resources(raw: Any, where: str) -> Optional[Resources]:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ContractError("%s.resources: expected an object or null" % where)
    fields.only(raw, RESOURCE_FIELDS, where + ".resources", ".")
    cpu = fields.optional(raw, "cpu_millis", where + ".resources", int, sep=".")
    mem = fields.optional(raw, "memory_bytes", where + ".resources", int, sep=".")
    if cpu is not None and cpu <= 0:
        raise ContractError("%s.resources.cpu_millis: must be > 0, got %d" % (where, cpu))
    if mem is not None and mem < MIN_MEMORY:
        raise ContractError(
            "%s.resources.memory_bytes: must be at least 6 MiB (Docker's minimum), got %d"
            % (where, mem)
        )
    return Resources(cpu, mem)


def _probe(doc: Any, where: str) -> ProbeSpec:
    if not isinstance(doc, dict):
        raise ContractError("%s: expected an object or null" % where)
    fields.only(doc, PROBE_FIELDS, where, ".")
    kind = doc.get("type")
    if kind not in PROBE_TYPES:
        raise ContractError("%s.type: %r is not one of %s" % (where, kind, ", ".join(PROBE_TYPES)))
    port = None
    path = "/"
    command: Tuple[str, ...] = ()
    if kind in ("http", "tcp"):
        port = fields.port(doc.get("port"), where + ".port")
    if kind == "http":
        path = fields.optional(doc, "path", where, str, sep=".") or "/"
        if not path.startswith("/"):
            raise ContractError("%s.path: must start with '/', got %r" % (where, path))
    if kind == "exec":
        command = fields.argv(doc.get("command"), where + ".command") or ()
        if not command:
            raise ContractError("%s.command: an exec probe needs a non-empty command" % where)
    return ProbeSpec(
        type=kind,
        port=port,
        path=path,
        command=command,
        period=fields.seconds(doc, "period", where, 10, 0.1),
        timeout=fields.seconds(doc, "timeout", where, 1, 0.1),
        initial_delay=fields.seconds(doc, "initial_delay", where, 0, 0.0),
        failure_threshold=fields.at_least_one(doc, "failure_threshold", where, 3),
        success_threshold=fields.at_least_one(doc, "success_threshold", where, 1),
    )
