"""Values known only after planning (a ClusterIP, a NodePort) and the program's exports.

A program runs before anything is planned, so `service.cluster_ip` is a placeholder, as a
Pulumi Output is. Printing one says what to do with it; formatting one into a string is an
error (the text would be wrong); passing one to `export` or as an env value works: the
planner fills it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podplay.dsl.diagnostics import Location, ProgramError, caller_location, show
from podplay.dsl.stack import current_stack


class Unresolved:
    """A value the planner decides: `Service "web".cluster_ip` and friends."""

    __slots__ = ("attribute", "name", "namespace", "port")

    def __init__(self, namespace: str, name: str, attribute: str, port: int | None = None):
        self.namespace = namespace
        self.name = name
        self.attribute = attribute
        self.port = port

    @property
    def key(self) -> tuple[str, str, str, int | None]:
        """What the planner looks up: (namespace, service, attribute, port)."""
        return (self.namespace, self.name, self.attribute, self.port)

    def describe(self) -> str:
        """`Service "web".node_port(80)`."""
        arg = f"({self.port})" if self.port is not None else ""
        return f'Service "{self.name}".{self.attribute}{arg}'

    def __str__(self) -> str:
        return (
            f"<{self.describe()} is decided by the planner, after the program runs: "
            f'pass it to pp.export("name", value) or use it as a container env value, '
            f"or reach the service by its DNS name "
            f"{self.name}.{self.namespace}.svc.cluster.local>"
        )

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        raise ProgramError.one(
            caller_location(),
            None,
            f"{self.describe()} cannot be formatted into a string while the program runs "
            "(the planner decides it later); use the value itself as an env value or export, "
            f"or the DNS name {self.name}.{self.namespace}.svc.cluster.local",
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unresolved) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass(frozen=True)
class Export:
    """A named output of the program, shown after `podplay up`."""

    name: str
    value: Any
    location: Location | None


def _check_value(value: Any, path: str) -> str | None:
    if isinstance(value, Unresolved | str | int | float | bool | type(None)):
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            problem = _check_value(item, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has key {show(key)}: keys must be strings"
            problem = _check_value(item, f"{path}[{show(key)}]")
            if problem:
                return problem
        return None
    return (
        f"{path} of type {type(value).__name__} cannot be exported: exports are strings, "
        "numbers, booleans, "
        "None, lists and dicts of those, or values like service.cluster_ip"
    )


def export(name: str, value: Any) -> None:
    """Declare an output of the program: `pp.export("web_port", 30080)`."""
    location = caller_location()
    if not isinstance(name, str) or not name:
        raise ProgramError.one(location, "export", f"name {show(name)} must be a non-empty string")
    problem = _check_value(value, "value")
    if problem:
        raise ProgramError.one(location, f'export "{name}"', problem)
    current_stack(f'export "{name}"', location).add_export(Export(name, value, location))
