"""Probes: how the agent decides a container is started, alive and ready (Kubernetes' three).

Timing fields have Kubernetes' defaults; the planner writes them into the pod manifest
through the node contract (podplay.node.contract).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, StrictStr, field_validator

from podplay.dsl.base import Spec, bad
from podplay.dsl.diagnostics import show
from podplay.dsl.fields import Argv, NonNegative, Port, Positive

# The probe path goes into the HTTP request line as written: whitespace or a control
# character would split or corrupt the request, so such a probe could never pass.
_HTTP_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


class _Probe(Spec):
    period: Positive = 10
    timeout: Positive = 1
    failure_threshold: Positive = 3
    success_threshold: Positive = 1
    initial_delay: NonNegative = 0


class HttpProbe(_Probe):
    """HTTP GET `path` on `port`: 2xx/3xx passes (Kubernetes defaults for timing)."""

    _positional = ("path", "port")

    path: StrictStr
    port: Port

    @field_validator("path")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith("/"):
            raise bad(f'{show(value)} must start with "/"')
        if _HTTP_UNSAFE.search(value):
            raise bad(
                f"{show(value)} must not contain spaces or control characters (CR, LF, tab, "
                "NUL ...): it is sent as the HTTP request line; percent-encode them (%20, %0D)"
            )
        return value


class TcpProbe(_Probe):
    """A TCP connect to `port` passes."""

    _positional = ("port",)

    port: Port


class ExecProbe(_Probe):
    """Run `command` inside the container: exit status 0 passes."""

    _positional = ("command",)

    command: Argv

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str]:
        if not value:
            raise bad('must name a program, like ["cat", "/tmp/ready"]')
        return value

    @property
    def port(self) -> None:
        """Exec probes use no port."""
        return None


Probe = HttpProbe | TcpProbe | ExecProbe


def _probe(value: Any) -> Any:
    if value is not None and not isinstance(value, HttpProbe | TcpProbe | ExecProbe):
        raise bad(f"{show(value)} must be a pp.HttpProbe, pp.TcpProbe or pp.ExecProbe")
    return value


OptionalProbe = Annotated[Probe | None, BeforeValidator(_probe)]
