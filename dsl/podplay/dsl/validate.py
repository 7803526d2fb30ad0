"""Checks across resources, run once the program has finished declaring them.

Checks about one object live on its model (they run at the constructor call); these need
the whole program: one cluster, NodePorts unique per cluster, LoadBalancer IPs in the pool,
explicit ClusterIPs in the service CIDR and unique,
selectors that match nothing (a warning, as Kubernetes allows it).
"""

from __future__ import annotations

from collections.abc import Callable

from podplay.dsl.diagnostics import Diagnostic, Location, ProgramError, show
from podplay.dsl.network import check_cluster_ip, pool_addresses
from podplay.dsl.stack import Stack


def validate(stack: Stack) -> None:
    """Raise ProgramError listing every cross-resource problem; record warnings on the stack."""
    problems: list[Diagnostic] = []
    if stack.cluster is None:
        problems.append(
            Diagnostic(
                Location(stack.program or "program"),
                None,
                'declares no Cluster; add one, e.g. pp.Cluster("dev", nodes=3)',
            )
        )
    problems += _node_ports(stack)
    problems += _load_balancer_ips(stack)
    problems += _cluster_ips(stack)
    if problems:
        raise ProgramError(problems)
    _selectors(stack)


def _node_ports(stack: Stack) -> list[Diagnostic]:
    owners: dict[int, str] = {}
    problems = []
    for service in stack.services.values():
        for i, port in enumerate(service.ports):
            if port.node_port is None:
                continue
            if port.node_port in owners:
                problems.append(
                    Diagnostic(
                        service.location,
                        service.describe(),
                        f"ports[{i}].node_port {port.node_port} is already used by "
                        f"{owners[port.node_port]}; node ports are unique per cluster",
                        field=f"ports[{i}].node_port",
                    )
                )
            else:
                owners[port.node_port] = _at(service)
    return problems


def _load_balancer_ips(stack: Stack) -> list[Diagnostic]:
    pool_text = stack.cluster.lb_pool if stack.cluster else None
    pool = set(map(str, pool_addresses(pool_text))) if pool_text else None

    def outside_pool(ip: str) -> str | None:
        if pool is not None and ip not in pool:
            return f"is outside the cluster's lb_pool {show(pool_text)}"
        return None

    return _unique_service_ips(stack, "load_balancer_ip", outside_pool)


def _cluster_ips(stack: Stack) -> list[Diagnostic]:
    if stack.cluster is None:
        return []
    cidr = stack.cluster.service_cidr
    return _unique_service_ips(stack, "static_cluster_ip", lambda ip: check_cluster_ip(ip, cidr))


def _unique_service_ips(
    stack: Stack, field: str, why_not: Callable[[str], str | None]
) -> list[Diagnostic]:
    """The services' IPs in `field`: each one `why_not` refuses (it says why), and each one a
    service before it already has (an IP belongs to one service)."""
    owners: dict[str, str] = {}
    problems = []
    for service in stack.services.values():
        ip = getattr(service, field)
        if ip is None:
            continue
        why = why_not(ip)
        if why is None and ip in owners:
            why = f"is already used by {owners[ip]}"
        if why is not None:
            problems.append(
                Diagnostic(
                    service.location, service.describe(), f"{field} {show(ip)} {why}", field=field
                )
            )
        else:
            owners[ip] = _at(service)
    return problems


def _selectors(stack: Stack) -> None:
    for service in stack.services.values():
        if service.selector is None:
            continue
        wanted = service.selector.items()
        if not any(
            d.namespace == service.namespace and wanted <= d.labels.items()
            for d in stack.deployments.values()
        ):
            stack.warn(
                service.location,
                service.describe(),
                f"selector {show(service.selector)} matches no Deployment in namespace "
                f'"{service.namespace}"; the service will have no endpoints',
            )


def _at(service: object) -> str:
    location = getattr(service, "location", None)
    where = f" at {location}" if location else ""
    return f"{service.describe()}{where}"  # type: ignore[attr-defined]
