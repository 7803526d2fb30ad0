"""The DSL: resources a program declares, the stack they register with, and evaluation.

Pure: evaluating a program constructs objects and checks them; nothing touches a host.
"""

from typing import Any

from podplay.dsl.cluster import Cluster, Node
from podplay.dsl.diagnostics import Diagnostic, Location, ProgramError
from podplay.dsl.evaluate import UserCodeError, evaluate
from podplay.dsl.images import ImageRef, local_images
from podplay.dsl.kubernetes import from_kubernetes
from podplay.dsl.outputs import Export, Unresolved, export
from podplay.dsl.probes import ExecProbe, HttpProbe, TcpProbe
from podplay.dsl.service import Service, ServicePort
from podplay.dsl.stack import Stack
from podplay.dsl.workload import (
    Container,
    Deployment,
    Image,
    Recreate,
    Resources,
    RollingUpdate,
)

__all__ = [
    "Cluster",
    "Container",
    "Deployment",
    "Diagnostic",
    "ExecProbe",
    "Export",
    "HttpProbe",
    "Image",
    "ImageRef",
    "Location",
    "Manifest",
    "Node",
    "ProgramError",
    "Recreate",
    "Resources",
    "RollingUpdate",
    "Service",
    "ServicePort",
    "Stack",
    "TcpProbe",
    "Unresolved",
    "UserCodeError",
    "evaluate",
    "export",
    "from_kubernetes",
    "local_images",
]


def __getattr__(name: str) -> Any:
    """`Manifest` on first use (`podplay.dsl.kubernetes` imports its translation lazily)."""
    if name == "Manifest":
        from podplay.dsl.kubernetes.translate import Manifest

        return Manifest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
