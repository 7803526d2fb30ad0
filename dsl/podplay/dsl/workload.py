"""Workloads: `Image`, `Container` with `Resources` (probes: probes.py), and `Deployment`
with its strategy (`RollingUpdate`, the default, or `Recreate`).

A Deployment is replicas of one pod template; the planner places the replicas and names the
pods. Everything here is checked where it is declared, so a message points at the line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    StrictStr,
    field_validator,
    model_validator,
)

from podplay.dsl.base import Spec, bad
from podplay.dsl.diagnostics import show
from podplay.dsl.fields import (
    NUL_MESSAGE,
    Argv,
    Labels,
    Name,
    NonNegative,
    Port,
    cpu_millis,
    is_env_name,
    is_image_ref,
    memory_bytes,
)
from podplay.dsl.outputs import Unresolved
from podplay.dsl.probes import OptionalProbe
from podplay.dsl.stack import current_stack

MAX_DEPLOYMENT_NAME = 46  # name-<10 hex>-<5 chars> must fit a 63-character hostname


class Image(Spec):
    """An image for pods, side-loaded to the nodes (there is no registry): built on this
    machine from a `context` directory, or (`ref=`) one the local Docker engine already has."""

    _positional = ("name", "context", "dockerfile")

    name: Name
    context: StrictStr | None = None
    dockerfile: StrictStr = "Dockerfile"
    ref: StrictStr | None = None
    # who named this image, when it comes from data (a manifest's container), for messages
    _used_by: tuple[str, str] | None = PrivateAttr(default=None)

    @field_validator("context", "dockerfile")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise bad(f"{show(value)} must be a path (relative to the program's directory)")
        return value

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and not is_image_ref(value):
            raise bad(f'{show(value)} is not an image reference like "busybox:1.36"')
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Image:
        if self.ref is not None and self.context is not None:
            raise bad(
                "give context (a directory to build) or ref (an image the local Docker engine "
                "has), not both"
            )
        if self.ref is None and self.context is None:
            raise bad(
                "context is required: a directory to build (or ref=, an image the local Docker "
                "engine already has)"
            )
        if self.ref is not None and "dockerfile" in self.model_fields_set:
            raise bad("dockerfile is only for an image built from a context")
        return self

    def _created(self) -> None:
        current_stack(self.describe(), self.location).add_image(self)

    @property
    def used_by(self) -> tuple[str, str] | None:
        """(resource, field) of the manifest container that named this image, if any."""
        return self._used_by


def _quantity(parse: Callable[[Any], int], what: str) -> Callable[[Any], Any]:
    """A validator that keeps a quantity as written once `parse` reads it ("250m", "64Mi")."""

    def check(value: Any) -> Any:
        if value is not None:
            try:
                parse(value)
            except ValueError as err:
                raise bad(f"{show(value)} is not a {what} quantity: {err}") from None
        return value

    return check


# Module-level: inside Resources the names cpu_millis and memory_bytes are its properties.
_CPU = BeforeValidator(_quantity(cpu_millis, "CPU"))
_MEMORY = BeforeValidator(_quantity(memory_bytes, "memory"))


class Resources(Spec):
    """What one container requests (and is limited to): `Resources(cpu="250m", memory="64Mi")`."""

    _positional = ("cpu", "memory")

    cpu: Annotated[str | int | float | None, _CPU] = None
    memory: Annotated[str | int | None, _MEMORY] = None

    @property
    def cpu_millis(self) -> int | None:
        """The CPU request in millicores."""
        return None if self.cpu is None else cpu_millis(self.cpu)

    @property
    def memory_bytes(self) -> int | None:
        """The memory request in bytes."""
        return None if self.memory is None else memory_bytes(self.memory)


def _image(value: Any) -> Any:
    if isinstance(value, Image):
        return value
    if isinstance(value, str) and is_image_ref(value):
        return value
    raise bad(f'{show(value)} must be a pp.Image or an image reference like "busybox:1.36"')


def _env(value: Any) -> Any:
    if not isinstance(value, dict):
        raise bad(f'{show(value)} must be a dict like {{"MODE": "prod"}}')
    out: dict[str, Any] = {}
    for key, val in value.items():
        if not isinstance(key, str) or not is_env_name(key):
            raise bad(f"key {show(key)} is not a variable name (letters, digits and _)")
        if isinstance(val, bool) or not isinstance(val, str | int | Unresolved):
            raise bad(f"[{show(key)}] {show(val)} must be a string")
        if isinstance(val, str) and "\x00" in val:
            raise bad(f"[{show(key)}] {show(val)} {NUL_MESSAGE}")
        out[key] = str(val) if isinstance(val, int) else val
    return out


class Container(Spec):
    """One container of a pod: its image, command, environment, ports, probes and resources."""

    _positional = ("name", "image")

    name: Name
    image: Annotated[Image | str, BeforeValidator(_image)]
    command: Argv = None
    args: Argv = None
    env: Annotated[dict[str, Any], BeforeValidator(_env)] = {}
    ports: list[Port] = []
    readiness: OptionalProbe = None
    liveness: OptionalProbe = None
    startup: OptionalProbe = None
    resources: Annotated[Resources | None, BeforeValidator(lambda v: _instance(v, Resources))] = (
        None
    )

    @field_validator("ports")
    @classmethod
    def _unique_ports(cls, value: list[int]) -> list[int]:
        seen: dict[int, int] = {}
        for i, port in enumerate(value):
            if port in seen:
                raise bad(f"[{i}] {port} is already listed at ports[{seen[port]}]")
            seen[port] = i
        return value


def _instance(value: Any, cls: type) -> Any:
    if value is not None and not isinstance(value, cls):
        raise bad(f"{show(value)} must be a pp.{cls.__name__}")
    return value


class RollingUpdate(Spec):
    """How a changed template replaces pods: `max_surge` extra at most, `max_unavailable` down."""

    _positional = ("max_surge", "max_unavailable")

    max_surge: NonNegative = 1
    max_unavailable: NonNegative = 0

    @model_validator(mode="after")
    def _progress(self) -> RollingUpdate:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise bad("max_surge and max_unavailable cannot both be 0 (no rollout could start)")
        return self


class Recreate(Spec):
    """How a changed template replaces pods when two versions cannot run at once: every old
    pod stops before any new one starts (as Kubernetes' `Recreate`). Its services have no
    ready endpoint meanwhile, so they refuse connections at once."""


Strategy = RollingUpdate | Recreate


def _strategy(value: Any) -> Any:
    if not isinstance(value, RollingUpdate | Recreate):
        raise bad(
            f"{show(value)} must be a pp.RollingUpdate(max_surge=..., max_unavailable=...) "
            "or a pp.Recreate()"
        )
    return value


def _containers(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise bad(f"{show(value)} must be a list of pp.Container")
    for i, item in enumerate(value):
        if not isinstance(item, Container):
            raise bad(f"[{i}] {show(item)} must be a pp.Container")
    return list(value)


class Deployment(Spec):
    """`replicas` pods from one template, spread over the nodes; a changed template replaces
    them by `strategy` (rolling update by default, or `pp.Recreate()`)."""

    _positional = ("name",)

    name: Name
    replicas: NonNegative = 1
    containers: Annotated[list[Container], BeforeValidator(_containers)]
    labels: Labels = {}
    node_selector: Labels = {}
    restart_policy: Literal["Always", "OnFailure", "Never"] = "Always"
    strategy: Annotated[Strategy, BeforeValidator(_strategy)] = Field(default_factory=RollingUpdate)
    namespace: Name = "default"
    termination_grace_period: NonNegative = 30

    @model_validator(mode="before")
    @classmethod
    def _default_labels(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("labels") is None:
            name = data.get("name")
            data = {**data, "labels": {"app": name} if isinstance(name, str) else {}}
        return data

    @model_validator(mode="after")
    def _pod(self) -> Deployment:
        if len(self.name) > MAX_DEPLOYMENT_NAME:
            raise bad(
                f"name {show(self.name)} is too long: at most {MAX_DEPLOYMENT_NAME} characters "
                "so that pod names (name-hash-suffix) stay within 63"
            )
        if not self.containers:
            raise bad("containers must list at least one pp.Container")
        if not self.labels:
            raise bad("labels must not be empty (services select pods by them)")
        names: dict[str, int] = {}
        ports: dict[int, int] = {}
        for i, container in enumerate(self.containers):
            if container.name in names:
                raise bad(
                    f'containers[{i}].name "{container.name}" is already used by '
                    f"containers[{names[container.name]}]"
                )
            names[container.name] = i
            for j, port in enumerate(container.ports):
                if port in ports:
                    raise bad(
                        f"containers[{i}].ports[{j}] {port} is already declared by "
                        f"containers[{ports[port]}] (containers of a pod share its network)"
                    )
                ports[port] = i
        declared = ", ".join(str(p) for p in sorted(ports)) or "none"
        for i, container in enumerate(self.containers):
            for kind in ("readiness", "liveness", "startup"):
                probe = getattr(container, kind)
                port = getattr(probe, "port", None)
                if port is not None and port not in ports:
                    raise bad(
                        f"containers[{i}].{kind}.port {port} is not a port any container "
                        f"of the pod declares (declared: {declared})"
                    )
        return self

    def _created(self) -> None:
        current_stack(self.describe(), self.location).add_deployment(self)

    @property
    def images(self) -> list[Image]:
        """The pp.Image objects this deployment's containers use."""
        return [c.image for c in self.containers if isinstance(c.image, Image)]
