"""Service plans: addresses from the allocators, endpoints from the planned pods.

Endpoints are the planned pods whose labels match the selector in the service's namespace;
readiness is learned live by the proxies, never planned. Matching uses an index on one
label pair so that 1,000 services over 5,000 pods stays fast.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from podplay.dsl import Service
from podplay.plan.addresses import Addresses
from podplay.plan.model import EndpointPlan, PodPlan, PortPlan, ServicePlan


class PodIndex:
    """Pods looked up by (namespace, label key, label value)."""

    def __init__(self, pods: Iterable[PodPlan]) -> None:
        self._by_pair: dict[tuple[str, str, str], list[PodPlan]] = defaultdict(list)
        for pod in pods:
            for key, value in pod.manifest["labels"].items():
                self._by_pair[(pod.namespace, key, value)].append(pod)

    def select(self, namespace: str, selector: dict[str, str]) -> list[PodPlan]:
        """Pods of `namespace` whose labels contain every pair of `selector`."""
        if not selector:
            return []
        pairs = sorted(selector.items())
        first_key, first_value = pairs[0]
        candidates = self._by_pair.get((namespace, first_key, first_value), [])
        return [
            p for p in candidates if all(p.manifest["labels"].get(k) == v for k, v in pairs[1:])
        ]


def _endpoints(pods: list[PodPlan]) -> list[EndpointPlan]:
    return [
        EndpointPlan(pod=p.name, namespace=p.namespace, node=p.node, ip=p.ip)
        for p in sorted(pods, key=lambda p: p.name)
    ]


def endpoints_for(service: ServicePlan, pods: list[PodPlan]) -> list[EndpointPlan]:
    """A service's endpoints among `pods` (used for intermediate rollout stages)."""
    if not service.selector:
        return []
    return _endpoints(PodIndex(pods).select(service.namespace, service.selector))


def plan_services(
    services: list[Service], addresses: Addresses, pods: list[PodPlan]
) -> list[ServicePlan]:
    """Every service with its ClusterIP, ports, LoadBalancer IP and endpoints."""
    index = PodIndex(pods)
    out = []
    for s in services:
        key = (s.namespace, s.name)
        ports = [
            PortPlan(
                name=p.name,
                port=p.port,
                target_port=p.effective_target_port,
                node_port=addresses.node_ports.get((s.namespace, s.name, p.port, p.protocol)),
                protocol=p.protocol,
            )
            for p in s.ports
        ]
        selected = index.select(s.namespace, s.selector) if s.selector else []
        out.append(
            ServicePlan(
                name=s.name,
                namespace=s.namespace,
                type=s.type,
                cluster_ip=addresses.cluster_ips.get(key),
                selector=dict(s.selector) if s.selector is not None else None,
                ports=ports,
                session_affinity=s.session_affinity,
                affinity_timeout=s.affinity_timeout,
                load_balancer_ip=addresses.lb_ips.get(key),
                external_name=s.external_name,
                endpoints=_endpoints(selected),
            )
        )
    return out
