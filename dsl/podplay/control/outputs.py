"""What `up` prints at the end: the program's exports and how to reach each service.

Pure: computed from the applied plan, saved as the stack's `outputs.json`, printed as text.
Each service type is reached its own way: a ClusterIP from inside the cluster (pods and
nodes), a NodePort on every node's address, a LoadBalancer IP from the node network, an
ExternalName only by cluster DNS (a CNAME).
"""

from __future__ import annotations

from typing import Any

from podplay.plan import Plan, ServicePlan


def _reach(service: ServicePlan, plan: Plan) -> list[str]:
    domain = plan.cluster.cluster_domain
    dns = f"{service.name}.{service.namespace}.svc.{domain}"
    if service.type == "ExternalName":
        return [f"{dns} -> CNAME {service.external_name} (cluster DNS, from pods)"]
    out = []
    for p in service.ports:
        if service.cluster_ip:
            out.append(f"{service.cluster_ip}:{p.port} ({dns}, inside the cluster)")
    addresses = [n.address for n in plan.nodes if n.address]
    if service.type in ("NodePort", "LoadBalancer"):
        for p in service.ports:
            if p.node_port is None:
                continue
            for address in addresses:
                out.append(f"http://{address}:{p.node_port}")
    if service.type == "LoadBalancer":
        for p in service.ports:
            if service.load_balancer_ip:
                out.append(f"http://{service.load_balancer_ip}:{p.port} (LoadBalancer IP)")
            else:
                out.append("LoadBalancer IP not assigned (no pool known)")
    return out


def outputs(plan: Plan) -> dict[str, Any]:
    """Exports and per-service access, JSON-ready (the stack's outputs.json)."""
    services = []
    for s in plan.services:
        services.append(
            {
                "name": s.name,
                "namespace": s.namespace,
                "type": s.type,
                "cluster_ip": s.cluster_ip,
                "ports": [
                    {"port": p.port, "target_port": p.target_port, "node_port": p.node_port}
                    for p in s.ports
                ],
                "load_balancer_ip": s.load_balancer_ip,
                "external_name": s.external_name,
                "reach": _reach(s, plan),
            }
        )
    return {
        "cluster": plan.cluster.name,
        "nodes": [{"name": n.name, "address": n.address} for n in plan.nodes],
        "exports": dict(plan.outputs),
        "services": services,
    }


def format_outputs(data: dict[str, Any]) -> str:
    """The text block printed after `up`."""
    lines = []
    exports = data.get("exports") or {}
    if exports:
        lines.append("Outputs:")
        width = max(len(k) for k in exports)
        lines += [f"  {k:<{width}}  {v}" for k, v in sorted(exports.items())]
    services = data.get("services") or []
    if services:
        if lines:
            lines.append("")
        lines.append("Services:")
        for s in services:
            lines.append(f"  {s['namespace']}/{s['name']} ({s['type']})")
            lines += [f"    {r}" for r in s["reach"]]
    urls = [r.split()[0] for s in services for r in s["reach"] if r.startswith("http://")]
    if urls:
        lines += ["", f"Try: curl {urls[0]}/"]
    return "\n".join(lines)
