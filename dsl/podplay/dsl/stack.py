"""The stack: every resource a program declares, collected as the program runs (as in Pulumi).

Constructing a resource registers it with the stack being evaluated. `podplay.dsl.evaluate`
runs a program inside a fresh stack; tests build one explicitly with `with Stack() as s:`.
Duplicates are refused at the second constructor call, so the message points at it.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podplay.dsl.diagnostics import Diagnostic, Location, ProgramError

if TYPE_CHECKING:
    from podplay.dsl.cluster import Cluster
    from podplay.dsl.outputs import Export
    from podplay.dsl.service import Service
    from podplay.dsl.workload import Deployment, Image

_current: ContextVar[Stack | None] = ContextVar("podplay_stack", default=None)


class Stack:
    """The resources of one program, in declaration order, keyed as Kubernetes keys them."""

    def __init__(self, program: str | None = None, base_dir: Path | None = None) -> None:
        self.program = program
        self.base_dir = base_dir if base_dir is not None else Path.cwd()
        self.cluster: Cluster | None = None
        self.images: dict[str, Image] = {}
        self.deployments: dict[tuple[str, str], Deployment] = {}
        self.services: dict[tuple[str, str], Service] = {}
        self.exports: dict[str, Export] = {}
        self.warnings: list[Diagnostic] = []
        self._tokens: list[Token[Stack | None]] = []

    def __enter__(self) -> Stack:
        self._tokens.append(_current.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._tokens.pop())

    def add_cluster(self, cluster: Cluster) -> None:
        """Register the program's one Cluster."""
        if self.cluster is not None:
            raise ProgramError.one(
                cluster.location,
                cluster.describe(),
                f'a program declares one Cluster; "{self.cluster.name}" is declared at '
                f"{_where(self.cluster.location)}",
            )
        self.cluster = cluster

    def add_image(self, image: Image) -> None:
        """Register an Image; names are unique in a program."""
        _unique(self.images, image.name, image, "an Image", "")
        self.images[image.name] = image

    def add_deployment(self, deployment: Deployment) -> None:
        """Register a Deployment; names are unique per namespace."""
        key = (deployment.namespace, deployment.name)
        _unique(self.deployments, key, deployment, "a Deployment", deployment.namespace)
        self.deployments[key] = deployment

    def add_service(self, service: Service) -> None:
        """Register a Service; names are unique per namespace."""
        key = (service.namespace, service.name)
        _unique(self.services, key, service, "a Service", service.namespace)
        self.services[key] = service

    def add_export(self, export: Export) -> None:
        """Register an output; names are unique."""
        if export.name in self.exports:
            first = self.exports[export.name]
            raise ProgramError.one(
                export.location,
                f'export "{export.name}"',
                f"already exported at {_where(first.location)}",
            )
        self.exports[export.name] = export

    def warn(self, location: Location | None, subject: str | None, message: str) -> None:
        """Record something legal but probably unintended (shown, never fatal)."""
        self.warnings.append(Diagnostic(location, subject, message))


def current_stack(subject: str, location: Location | None) -> Stack:
    """The stack being evaluated, or an error saying how to evaluate a program."""
    stack = _current.get()
    if stack is None:
        raise ProgramError.one(
            location,
            subject,
            "no program is being evaluated; run this file with `podplay compile FILE` "
            "(or `podplay up FILE`), or declare resources inside `with podplay.Stack():`",
        )
    return stack


def _where(location: Location | None) -> str:
    return str(location) if location else "an earlier line"


def _unique(existing: dict[Any, Any], key: Any, resource: Any, what: str, namespace: str) -> None:
    if key in existing:
        first = existing[key]
        scope = f' in namespace "{namespace}"' if namespace else ""
        raise ProgramError.one(
            resource.location,
            resource.describe(),
            f'{what} named "{resource.name}" already exists{scope} '
            f"(declared at {_where(first.location)})",
        )
