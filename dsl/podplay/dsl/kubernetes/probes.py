"""Readiness, liveness and startup probes: httpGet, tcpSocket or exec, with their timing.

A named port (`port: http`) is the container's own port of that name, as the kubelet
resolves it; the deployment then checks the number is one the pod declares (podplay probes
only declared ports).
"""

from __future__ import annotations

from typing import Any

from podplay.dsl.diagnostics import show
from podplay.dsl.kubernetes.reader import Fields, Subject, port_number, strings
from podplay.dsl.kubernetes.yamlfile import Located
from podplay.dsl.probes import ExecProbe, HttpProbe, Probe, TcpProbe

PROBES = {"readinessProbe": "readiness", "livenessProbe": "liveness", "startupProbe": "startup"}
HANDLERS = ("httpGet", "tcpSocket", "exec")
_TIMING = {  # Kubernetes name -> (pp probe argument, smallest value)
    "periodSeconds": ("period", 1),
    "timeoutSeconds": ("timeout", 1),
    "failureThreshold": ("failure_threshold", 1),
    "successThreshold": ("success_threshold", 1),
    "initialDelaySeconds": ("initial_delay", 0),
}

PortUse = tuple[int, Located, str]  # a probe's port number, where it was written, its path


def read_probe(
    subject: Subject, node: Located, path: str, key: str, port_names: dict[str, int]
) -> tuple[Probe, PortUse | None]:
    """One probe as a pp probe, and the port it uses (None for exec)."""
    if isinstance(node.value, dict):
        for other in node.value:
            if (
                other not in HANDLERS
                and other not in _TIMING
                and node.value[other].value is not None
            ):
                handler = " (a probe is httpGet, tcpSocket or exec)" if other == "grpc" else ""
                subject.fail(node.value[other], f"{path}.{other}", f"is not supported{handler}")
    fields = Fields(subject, node, path, (*HANDLERS, *_TIMING))
    given = [h for h in HANDLERS if fields.get(h) is not None]
    if not given:
        subject.fail(node, path, "needs a handler: httpGet, tcpSocket or exec")
    if len(given) > 1:
        subject.fail(
            fields.get(given[1]),
            fields.path(given[1]),
            f"is not allowed beside {given[0]} (a probe has one handler)",
        )
    timing: dict[str, Any] = {}
    for name, (argument, smallest) in _TIMING.items():
        value = fields.integer(name, minimum=smallest)
        if value is not None:
            timing[argument] = value
    if key != "readinessProbe" and timing.get("success_threshold", 1) != 1:
        subject.fail(
            fields.get("successThreshold"),
            fields.path("successThreshold"),
            f"{timing['success_threshold']} must be 1 for a liveness or startup probe",
        )
    handler = fields.required(given[0])
    handler_path = fields.path(given[0])
    if given[0] == "exec":
        exec_fields = Fields(subject, handler, handler_path, ("command",))
        command_node = exec_fields.required("command")
        command = strings(subject, command_node, exec_fields.path("command"))
        if not command:
            subject.fail(command_node, exec_fields.path("command"), "must name a program")
        return ExecProbe(command, **timing), None
    if given[0] == "tcpSocket":
        tcp = Fields(subject, handler, handler_path, ("port",))
        use = _port(subject, tcp, port_names)
        return TcpProbe(use[0], **timing), use
    http = Fields(subject, handler, handler_path, ("path", "port"), defaults={"scheme": "HTTP"})
    use = _port(subject, http, port_names)
    url_path = http.string("path", "/") or "/"
    if not url_path.startswith("/"):
        subject.fail(http.get("path"), http.path("path"), f'{show(url_path)} must start with "/"')
    return HttpProbe(url_path, use[0], **timing), use


def _port(subject: Subject, fields: Fields, port_names: dict[str, int]) -> PortUse:
    node = fields.required("port")
    path = fields.path("port")
    if isinstance(node.value, str):
        if node.value not in port_names:
            names = ", ".join(sorted(port_names))
            known = f"its named ports: {names}" if names else "it names no ports"
            subject.fail(
                node, path, f"{show(node.value)} is not a port name of this container ({known})"
            )
        return port_names[node.value], node, path
    return port_number(subject, node, path), node, path
