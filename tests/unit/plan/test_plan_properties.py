"""Property tests: for random programs, addresses are unique and valid, and re-planning is
stable (unchanged → identical; rescaled → nothing moves, the newest go first)."""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_builders import replan, stack_of

import podplay as pp
from podplay.plan import Plan

NAMES = ["web", "api", "db", "cache", "queue"]
POOL = "192.0.2.0/26"


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    replicas: int
    version: int


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    type: str
    target: int
    ports: tuple[int, ...]
    node_port: int | None


@dataclass(frozen=True)
class ProgramSpec:
    nodes: int
    deployments: tuple[DeploymentSpec, ...]
    services: tuple[ServiceSpec, ...]
    service_cidr: str = "10.96.0.0/16"


# A /27 leaves 28 ClusterIPs, so services often hash to the same one: only then does the
# uniqueness property test the allocator's probing (a /16 almost never collides).
SERVICE_CIDRS = ["10.96.0.0/16", "10.96.0.0/27"]


@st.composite
def programs(draw: st.DrawFn) -> ProgramSpec:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    deployments = tuple(
        DeploymentSpec(n, draw(st.integers(0, 9)), draw(st.integers(0, 2))) for n in names
    )
    explicit = iter(draw(st.lists(st.integers(30000, 32767), max_size=8, unique=True)))
    services = []
    for i in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]))
        ports = tuple(draw(st.lists(st.integers(1, 3000), min_size=1, max_size=3, unique=True)))
        wants_explicit = kind in ("NodePort", "LoadBalancer") and draw(st.booleans())
        services.append(
            ServiceSpec(
                name=f"svc{i}",
                type=kind,
                target=draw(st.integers(0, len(names) - 1)),
                ports=ports,
                node_port=next(explicit, None) if wants_explicit else None,
            )
        )
    return ProgramSpec(
        draw(st.integers(1, 5)),
        deployments,
        tuple(services),
        draw(st.sampled_from(SERVICE_CIDRS)),
    )


def build(spec: ProgramSpec):
    def program() -> None:
        pp.Cluster("prop", nodes=spec.nodes, lb_pool=POOL, service_cidr=spec.service_cidr)
        for d in spec.deployments:
            pp.Deployment(
                d.name,
                replicas=d.replicas,
                containers=[pp.Container("main", "busybox", env={"VERSION": str(d.version)})],
            )
        for s in spec.services:
            if s.type == "ExternalName":
                pp.Service(s.name, type="ExternalName", external_name="example.test")
                continue
            ports = [pp.ServicePort(p) for p in s.ports]
            if s.node_port is not None:
                ports[0] = pp.ServicePort(s.ports[0], node_port=s.node_port)
            target = spec.deployments[s.target].name
            pp.Service(s.name, type=s.type, selector={"app": target}, ports=ports)

    return stack_of(program)


def assert_addresses_are_unique_and_valid(result: Plan) -> None:
    cidrs = {n.name: ipaddress.IPv4Network(n.pod_cidr) for n in result.nodes}
    ips = [p.ip for p in result.pods]
    assert len(set(ips)) == len(ips)
    assert len({p.name for p in result.pods}) == len(result.pods)
    for pod in result.pods:
        offset = int(ipaddress.IPv4Address(pod.ip)) - int(cidrs[pod.node].network_address)
        assert 2 <= offset <= 254
    service_net = ipaddress.IPv4Network(result.cluster.service_cidr)
    cluster_ips = [s.cluster_ip for s in result.services if s.cluster_ip]
    assert len(set(cluster_ips)) == len(cluster_ips)
    for ip in cluster_ips:
        assert ipaddress.IPv4Address(ip) in service_net
        assert ip not in (str(service_net[0]), str(service_net[1]), str(service_net[10]))
    node_ports = [p.node_port for s in result.services for p in s.ports if p.node_port]
    assert len(set(node_ports)) == len(node_ports)
    assert all(30000 <= p <= 32767 for p in node_ports)
    lb = [s.load_balancer_ip for s in result.services if s.load_balancer_ip]
    assert len(set(lb)) == len(lb)
    assert all(ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(POOL) for ip in lb)
    for service in result.services:
        wanted = service.type in ("NodePort", "LoadBalancer")
        assert all((p.node_port is not None) == wanted for p in service.ports)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(programs())
def test_addresses_are_unique_and_replanning_is_identical(spec: ProgramSpec) -> None:
    stack = build(spec)
    first = replan(stack)
    assert_addresses_are_unique_and_valid(first)
    assert replan(stack, first) == first
    assert replan(stack, Plan.from_json(first.to_json())) == first
    assert replan(build(spec)) == first, "deterministic from nothing"


@FAST
@given(programs(), st.data())
def test_rescaling_moves_nothing_and_drops_the_newest(
    spec: ProgramSpec, data: st.DataObject
) -> None:
    first = replan(build(spec))
    rescaled = replace(
        spec,
        deployments=tuple(
            replace(d, replicas=data.draw(st.integers(0, 9))) for d in spec.deployments
        ),
    )
    after = replan(build(rescaled), first)
    assert_addresses_are_unique_and_valid(after)
    assert after.rollout == []
    for old, new in zip(spec.deployments, rescaled.deployments, strict=True):
        before_pods = sorted(
            (p for p in first.pods if p.deployment == old.name), key=lambda p: p.serial
        )
        after_pods = {p.name: p for p in after.pods if p.deployment == new.name}
        assert len(after_pods) == new.replicas
        survivors = before_pods[: new.replicas]
        for pod in survivors:
            assert (after_pods[pod.name].node, after_pods[pod.name].ip) == (pod.node, pod.ip)
    assert [s.cluster_ip for s in after.services] == [s.cluster_ip for s in first.services]
    assert [[p.node_port for p in s.ports] for s in after.services] == [
        [p.node_port for p in s.ports] for s in first.services
    ]


@FAST
@given(programs())
def test_a_new_template_never_reuses_an_old_pods_ip(spec: ProgramSpec) -> None:
    first = replan(build(spec))
    bumped = replace(
        spec, deployments=tuple(replace(d, version=d.version + 1) for d in spec.deployments)
    )
    after = replan(build(bumped), first)
    assert_addresses_are_unique_and_valid(after)
    old = {(p.node, p.ip) for p in first.pods}
    assert not old & {(p.node, p.ip) for p in after.pods}
    created = Counter(n for s in after.rollout if s.action == "create" for n in s.pods)
    deleted = Counter(n for s in after.rollout if s.action == "delete" for n in s.pods)
    replaced = [d.name for d in spec.deployments if d.replicas]
    assert set(deleted) == {p.name for p in first.pods if p.deployment in replaced}
    assert set(created) <= {p.name for p in after.pods}
    assert all(count == 1 for count in (created + deleted).values())


@FAST
@given(programs(), st.data())
def test_ips_released_by_a_rescale_are_not_handed_out_by_the_next(
    spec: ProgramSpec, data: st.DataObject
) -> None:
    """Pods removed by one plan may still be stopping when the next adds pods (scale down,
    then straight back up): the new pods never get the IPs the removed ones held."""

    def rescaled(s: ProgramSpec) -> ProgramSpec:
        return replace(
            s,
            deployments=tuple(
                replace(d, replicas=data.draw(st.integers(0, 9))) for d in s.deployments
            ),
        )

    first = replan(build(spec))
    second_spec = rescaled(spec)
    second = replan(build(second_spec), Plan.from_json(first.to_json()))
    third = replan(build(rescaled(second_spec)), Plan.from_json(second.to_json()))
    assert_addresses_are_unique_and_valid(third)
    released = {(p.node, p.ip) for p in first.pods} - {(p.node, p.ip) for p in second.pods}
    kept = {p.name for p in second.pods}
    added = {(p.node, p.ip) for p in third.pods if p.name not in kept}
    assert not released & added  # (45 pods a node at most: no wrap round the /24 here)
