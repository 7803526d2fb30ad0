"""`Service` and `ServicePort`: a stable virtual address in front of pods, as in Kubernetes.

ClusterIP inside the cluster, NodePort on every node's address, LoadBalancer on an address
from the cluster's pool, ExternalName as a DNS CNAME. The planner assigns the addresses;
until then `service.cluster_ip` and friends are placeholders (see `podplay.dsl.outputs`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, StrictInt, StrictStr, model_validator

from podplay.dsl.base import Spec, bad
from podplay.dsl.diagnostics import ProgramError, caller_location, show
from podplay.dsl.fields import NODE_PORT_RANGE, DnsName, Labels, Name, Port, ServiceName
from podplay.dsl.network import parse_address
from podplay.dsl.outputs import Unresolved
from podplay.dsl.stack import current_stack
from podplay.dsl.workload import Deployment
from podplay.node.contract import defaults

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")


class ServicePort(Spec):
    """One port of a service: `port` on the virtual IP → `target_port` on the pods."""

    _positional = ("port", "target_port")

    port: Port
    target_port: Port | None = None
    node_port: Port | None = None
    protocol: Literal["TCP", "UDP"] = "TCP"
    name: Name | None = None

    @property
    def effective_target_port(self) -> int:
        """`target_port`, or `port` when not given (as Kubernetes does)."""
        return self.target_port if self.target_port is not None else self.port


def _ports(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise bad(f"{show(value)} must be a list of port numbers or pp.ServicePort")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, ServicePort):
            out.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            if not 1 <= item <= 65535:
                raise bad(f"[{i}] {item} is outside 1-65535")
            out.append(ServicePort.model_construct(port=item))
        else:
            raise bad(f"[{i}] {show(item)} must be a port number or a pp.ServicePort")
    return out


def _affinity(value: Any) -> Any:
    if value not in (None, "ClientIP"):
        raise bad(f'{show(value)} must be "ClientIP" or None')
    return value


class Service(Spec):
    """A virtual address (and DNS name) for the pods its selector matches."""

    _positional = ("name",)

    name: ServiceName
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] = "ClusterIP"
    selector: Labels | None = None
    ports: Annotated[list[ServicePort], BeforeValidator(_ports)] = []
    external_name: DnsName | None = None
    session_affinity: Annotated[Literal["ClientIP"] | None, BeforeValidator(_affinity)] = None
    affinity_timeout: StrictInt = defaults.AFFINITY_TIMEOUT
    load_balancer_ip: StrictStr | None = None
    static_cluster_ip: StrictStr | None = None  # spec.clusterIP: this one, not a planned one
    namespace: Name = "default"

    @model_validator(mode="before")
    @classmethod
    def _deployment_selector(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("selector"), Deployment):
            deployment = data["selector"]
            namespace = data.get("namespace", "default")
            if deployment.namespace != namespace:
                raise bad(
                    f'selector {deployment.describe()} is in namespace "{deployment.namespace}", '
                    f'this service is in "{namespace}"; a service selects pods of its own namespace'
                )
            data = {**data, "selector": dict(deployment.labels)}
        return data

    @model_validator(mode="after")
    def _by_type(self) -> Service:
        kind = self.type
        if kind == "ExternalName":
            if self.external_name is None:
                raise bad(
                    'external_name is required for type "ExternalName" (the DNS name to answer)'
                )
            for field in ("selector", "session_affinity", "load_balancer_ip", "static_cluster_ip"):
                if getattr(self, field) is not None:
                    raise bad(
                        f'{field} is not allowed for type "ExternalName" (it proxies nothing)'
                    )
            if self.ports:
                raise bad('ports are not allowed for type "ExternalName" (it proxies nothing)')
            return self
        if self.external_name is not None:
            raise bad(f'external_name is only for type "ExternalName", not "{kind}"')
        if self.selector is None:
            raise bad(
                f'selector is required for type "{kind}": a dict of pod labels or a pp.Deployment'
            )
        if not self.selector:
            raise bad("selector must not be empty (it would select no pods)")
        if not self.ports:
            raise bad(f'ports must list at least one port for type "{kind}"')
        self._check_ports()
        if self.load_balancer_ip is not None:
            if kind != "LoadBalancer":
                raise bad(f'load_balancer_ip is only for type "LoadBalancer", not "{kind}"')
            try:
                parse_address(self.load_balancer_ip)
            except ValueError as err:
                raise bad(f"load_balancer_ip {show(self.load_balancer_ip)} {err}") from None
        if self.static_cluster_ip is not None:
            try:
                parse_address(self.static_cluster_ip)
            except ValueError as err:
                raise bad(f"static_cluster_ip {show(self.static_cluster_ip)} {err}") from None
        if not 1 <= self.affinity_timeout <= 86400:
            raise bad(f"affinity_timeout {self.affinity_timeout} is outside 1-86400 seconds")
        return self

    def _check_ports(self) -> None:
        seen: dict[tuple[int, str], int] = {}
        names: dict[str, int] = {}
        low, high = NODE_PORT_RANGE
        for i, port in enumerate(self.ports):
            key = (port.port, port.protocol)
            if key in seen:
                raise bad(
                    f"ports[{i}].port {port.port}/{port.protocol} is already used by "
                    f"ports[{seen[key]}]"
                )
            seen[key] = i
            if port.name is not None:
                if port.name in names:
                    raise bad(
                        f'ports[{i}].name "{port.name}" is already used by '
                        f"ports[{names[port.name]}]"
                    )
                names[port.name] = i
            if port.node_port is not None:
                if self.type not in ("NodePort", "LoadBalancer"):
                    raise bad(
                        f'ports[{i}].node_port is only for type "NodePort" or "LoadBalancer", '
                        f'not "{self.type}"'
                    )
                if not low <= port.node_port <= high:
                    raise bad(f"ports[{i}].node_port {port.node_port} is outside {low}-{high}")

    def _created(self) -> None:
        current_stack(self.describe(), self.location).add_service(self)

    @property
    def dns_name(self) -> str:
        """The name cluster DNS answers for this service: `web.default.svc.cluster.local`."""
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    @property
    def cluster_ip(self) -> Unresolved:
        """The virtual IP the planner assigns (a placeholder while the program runs)."""
        if self.type == "ExternalName":
            raise ProgramError.one(
                caller_location(), self.describe(), 'type "ExternalName" has no cluster_ip'
            )
        return Unresolved(self.namespace, self.name, "cluster_ip")

    @property
    def external_ip(self) -> Unresolved:
        """The LoadBalancer address from the pool (a placeholder while the program runs)."""
        if self.type != "LoadBalancer":
            raise ProgramError.one(
                caller_location(), self.describe(), f'type "{self.type}" has no external_ip'
            )
        return Unresolved(self.namespace, self.name, "external_ip")

    def node_port(self, port: int | None = None) -> Unresolved:
        """The NodePort of service port `port` (the first port when not given)."""
        location = caller_location()
        if self.type not in ("NodePort", "LoadBalancer"):
            raise ProgramError.one(
                location, self.describe(), f'type "{self.type}" has no node ports'
            )
        numbers = [p.port for p in self.ports]
        chosen = numbers[0] if port is None else port
        if chosen not in numbers:
            raise ProgramError.one(
                location, self.describe(), f"has no port {show(port)} (ports: {numbers})"
            )
        return Unresolved(self.namespace, self.name, "node_port", chosen)
