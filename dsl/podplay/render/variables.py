"""`group_vars/all.yml` (the cluster) and `host_vars/<node>.yml` (the node and its pods).

Variable names and shapes follow the collection README's contract exactly; the service
table and pod manifests follow the node README. A reader of `host_vars/node1.yml` sees at
the top which pods run there, then their full manifests.
"""

from __future__ import annotations

from typing import Any

from podplay.node.contract.cluster import Endpoint, Service, ServicePort
from podplay.node.contract.network import Peer
from podplay.node.contract.store import NodeSpec
from podplay.plan import NodePlan, Plan, PodPlan, ServicePlan
from podplay.render.options import ImageFile, RenderOptions
from podplay.render.yamltext import dump


def _image(ref: str, id_: str | None, archive: str | None) -> dict[str, Any]:
    return ImageFile(ref=ref, id=id_, archive=archive).model_dump()


def contract_service(s: ServicePlan) -> Service:
    """A planned service as cluster.json carries it (the node contract's record)."""
    return Service(
        name=s.name,
        namespace=s.namespace,
        type=s.type,
        cluster_ip=s.cluster_ip,
        ports=tuple(
            ServicePort(p.name, p.port, p.target_port, p.node_port, p.protocol) for p in s.ports
        ),
        session_affinity=s.session_affinity,
        affinity_timeout=s.affinity_timeout,
        load_balancer_ip=s.load_balancer_ip,
        external_name=s.external_name,
        endpoints=tuple(Endpoint(e.node, e.namespace, e.pod, e.ip) for e in s.endpoints),
        selector=None if s.selector is None else tuple(s.selector.items()),
    )


def node_entry(n: NodePlan) -> dict[str, Any]:
    """One entry of `podplay_nodes` (network.json's `nodes`; the address may be unknown yet)."""
    return Peer(n.name, n.address, n.pod_cidr).to_json()


def node_spec(n: NodePlan) -> dict[str, Any]:
    """One entry of `podplay_node_specs`: the node as the controller places pods on it."""
    return NodeSpec(
        name=n.name,
        address=n.address or "",
        pod_cidr=n.pod_cidr,
        labels=dict(n.labels),
        cpu_millis=n.capacity.cpu_millis,
        memory_bytes=n.capacity.memory_bytes,
        max_pods=n.capacity.pods,
        last_pod_ip=n.last_pod_ip,
        control_plane=n.control_plane,
    ).to_json()


def node_selectors(plan: Plan) -> dict[str, dict[str, str]]:
    """`podplay_node_selectors`: each deployment's node selector (the bindings carry it, so
    the controller places a moved pod by the same rule as the planner)."""
    return {
        f"{d.namespace}/{d.name}": dict(d.template.get("node_selector") or {})
        for d in sorted(plan.deployments, key=lambda d: (d.namespace, d.name))
    }


def group_vars_data(plan: Plan, options: RenderOptions) -> dict[str, Any]:
    """Cluster-wide variables as data (what `group_vars/all.yml` holds)."""
    c = plan.cluster
    data: dict[str, Any] = {
        "ansible_pipelining": True,
        "podplay_cluster_name": c.name,
        "podplay_pod_cidr": c.pod_cidr,
        "podplay_service_cidr": c.service_cidr,
        "podplay_dns_ip": c.dns_ip,
        "podplay_cluster_domain": c.cluster_domain,
        "podplay_node_port_range": list(c.node_port_range),
        "podplay_node_grace": c.node_grace,
        "podplay_nodes": [node_entry(n) for n in plan.nodes],
        "podplay_node_specs": [node_spec(n) for n in plan.nodes],
        "podplay_node_selectors": node_selectors(plan),
    }
    controller = {
        "podplay_node_bundle": options.node_bundle,
        "podplay_agent_token_file": options.agent_token_file,
        "podplay_pki_dir": options.pki_dir,
        "podplay_pause_image": options.pause_image.model_dump() if options.pause_image else None,
    }
    data.update({k: v for k, v in controller.items() if v is not None})
    data["podplay_images"] = [
        _image(i.ref, i.id, options.image_archives.get(i.name)) for i in plan.images
    ]
    data["podplay_services"] = [contract_service(s).to_json() for s in plan.services]
    return data


def group_vars(plan: Plan, options: RenderOptions) -> str:
    """Cluster-wide variables."""
    c = plan.cluster
    data = group_vars_data(plan, options)
    header = [f'Cluster "{c.name}": every node shares these. Written by podplay compile.']
    if any(i.id is None for i in plan.images):
        header.append("Images not built yet have id and archive null (`podplay up` builds them).")
    if plan.pending:
        header.append("Not known yet (null below):")
        header += [f"  - {item}" for item in plan.pending]
    controller = ("podplay_node_bundle", "podplay_agent_token_file", "podplay_pki_dir")
    missing = [name for name in (*controller, "podplay_pause_image") if name not in data]
    if missing:
        header.append(
            f"Left to the roles' defaults: {', '.join(missing)} (`podplay up` builds and "
            "sets them)."
        )
    return dump(data, "\n".join(header), literal=True)


def host_vars_data(node: NodePlan, pods: list[PodPlan]) -> dict[str, Any]:
    """One node's variables as data (what `host_vars/<node>.yml` holds)."""
    return {
        "podplay_node_address": node.address,
        "podplay_node_pod_cidr": node.pod_cidr,
        "podplay_pods": [p.manifest for p in pods],
    }


def host_vars(node: NodePlan, pods: list[PodPlan]) -> str:
    """One node's variables, led by a table of its pods."""
    lines = [
        f"Node {node.name}: pod CIDR {node.pod_cidr}, address {node.address or 'not known yet'}.",
        f"{len(pods)} pod{'s' if len(pods) != 1 else ''} bound here:" if pods else "No pods.",
    ]
    width = max((len(p.name) for p in pods), default=0)
    lines += [f"  {p.name:<{width}}  {p.ip:<15} {p.namespace}/{p.deployment}" for p in pods]
    return dump(host_vars_data(node, pods), "\n".join(lines), literal=True)
