"""`podplay describe KIND NAME`: one resource in detail, with its recent events.

KIND is pod, deployment, service or node (plural and short forms too). Details come from
the applied plan (with the pods the cluster's controller moved where the store says they
are), the agents and the cluster's store (a node's lease: NotReady since when); events from
the agents' `/v1/events` and the store's `events/` (node NotReady, pod rescheduled from one
node to another ...), oldest first (scheduled comes from the plan: which node the planner
bound the pod to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from podplay.cli.output import table

KINDS = {
    "pod": "pod",
    "pods": "pod",
    "po": "pod",
    "deployment": "deployment",
    "deployments": "deployment",
    "deploy": "deployment",
    "service": "service",
    "services": "service",
    "svc": "service",
    "node": "node",
    "nodes": "node",
    "no": "node",
}


def _section(title: str, items: Iterable[tuple[str, Any]]) -> None:
    if title:
        click.echo(f"{title}:")
    pad = "  " if title else ""
    rows = [(k, "" if v is None else str(v)) for k, v in items]
    width = max((len(k) for k, _ in rows), default=0) + 1
    for key, value in rows:
        click.echo(f"{pad}{key + ':':<{width}} {value}")


def _events(events: list[Mapping[str, Any]], scheduled: list[tuple[str, str]]) -> None:
    click.echo("Events:")
    rows = [
        ["-", "Normal", "Scheduled", pod, f"assigned to {node} by the plan"]
        for pod, node in scheduled
    ]
    rows += [
        [str(e.get("time", "")), e.get("type", ""), e.get("reason", ""),
         e.get("object") or e.get("pod", ""), e.get("message", "")]
        for e in events
    ]  # fmt: skip
    if not rows:
        click.echo("  <none>")
        return
    table(["  TIME", "TYPE", "REASON", "OBJECT", "MESSAGE"], [["  " + r[0], *r[1:]] for r in rows])


def _all_events(access: Any) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for _node, answer in access.each(lambda c: c.events()):
        if not isinstance(answer, Exception):
            out += answer
    return out


def _scheduled(store: Any, pods: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(pod, the node the plan bound it to) for each (namespace, pod, node now): a pod the
    controller moved was bound to the node it moved from."""
    bindings = store.view.bindings if store.view is not None else {}
    out = []
    for namespace, name, node in pods:
        b = bindings.get((namespace, name))
        out.append((name, b.moved_from if b is not None and b.moved_from else node))
    return out


@click.command("describe")
@click.argument("kind")
@click.argument("name")
@click.option("--cluster", "-c", "cluster_name", metavar="CLUSTER", help="Cluster name.")
@click.option(
    "--inventory", "-i", type=click.Path(dir_okay=False, path_type=Path),
    help="An inventory with podplay_nodes (e.g. .podplay/<stack>/build/inventory.yml).",
)  # fmt: skip
@click.option("--namespace", "-n", help="Namespace (default: the only match).")
def describe(
    kind: str, name: str, cluster_name: str | None, inventory: Path | None, namespace: str | None
) -> None:
    """Show one pod, deployment, service or node in detail, with recent events."""
    from podplay.control import agent_client
    from podplay.control.cluster_view import with_moves
    from podplay.control.inspect import applied_plan_if_any
    from podplay.errors import UserInputError

    what = KINDS.get(kind.lower())
    if what is None:
        raise UserInputError(
            f"describe: unknown kind {kind!r}; use pod, deployment, service or node"
        )
    access = agent_client.cluster_access(cluster_name, inventory)
    plan, store = with_moves(applied_plan_if_any(access.name, inventory), access.name, inventory)
    if store.problem:
        click.echo(f"warning: {store.problem}: its events and leases are not shown", err=True)
    if what == "node":
        _describe_node(access, name, store)
    elif what == "pod":
        _describe_pod_of(access, store, name, namespace)
    else:
        _describe_workload(access, store, plan, what, name, namespace, inventory)


def _describe_pod_of(access: Any, store: Any, name: str, namespace: str | None) -> None:
    """A pod as its agent reports it, with its events (the agents' and the store's)."""
    from podplay.control import agent_client
    from podplay.control.cluster_view import merge_events, moved_from, store_events_for
    from podplay.control.inspect import events_for

    pod = agent_client.find_pod(access, name, namespace)
    _describe_pod(pod)
    key = (pod["namespace"], pod["name"])
    events = merge_events(
        events_for(_all_events(access), {key}),
        store_events_for(store.events(), pods=[key], nodes=moved_from(store, [key])),
    )
    node = pod.get("node")
    _events(events, _scheduled(store, [(*key, node)]) if node else [])


def _describe_workload(
    access: Any,
    store: Any,
    plan: Any,
    what: str,
    name: str,
    namespace: str | None,
    inventory: Path | None,
) -> None:
    """A deployment or service: the applied plan (moves written in) joined with the agents'
    pods, and the events of its pods (and of the deployment, and the nodes they left)."""
    from podplay.control import agent_client
    from podplay.control.cluster_view import merge_events, moved_from, store_events_for
    from podplay.control.inspect import deployments, events_for, find, load_applied_plan, services

    if plan is None:  # the error that names what is missing
        plan = load_applied_plan(access.name, inventory)
    pods, problems = agent_client.all_pods(access)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    if what == "deployment":
        d = find(deployments(plan, pods), "deployment", name, namespace)
        _describe_deployment(d)
        keys = {(d["namespace"], p["name"]) for p in d["pods"]}
        about = {"deployments": [(d["namespace"], d["name"])]}
        scheduled = _scheduled(store, [(d["namespace"], p["name"], p["node"]) for p in d["pods"]])
    else:
        s = find(services(plan, pods), "service", name, namespace)
        _describe_service(s)
        keys = {(s["namespace"], e["pod"]) for e in s["endpoints"]}
        about, scheduled = {}, []
    events = merge_events(
        events_for(_all_events(access), keys),
        store_events_for(store.events(), pods=keys, nodes=moved_from(store, keys), **about),
    )
    _events(events, scheduled)


def _describe_deployment(d: Mapping[str, Any]) -> None:
    _section("", [
        ("Name", d["name"]), ("Namespace", d["namespace"]),
        ("Replicas", f"{d['replicas']} desired, {d['ready']} ready, "
                     f"{d['up_to_date']} up to date"),
        ("Selector", ",".join(f"{k}={v}" for k, v in sorted(d["labels"].items()))),
        ("Template", d["template_hash"]), ("Images", ", ".join(map(str, d["images"]))),
        ("Strategy", _strategy(d["strategy"])),
    ])  # fmt: skip
    _pods_table(d["pods"])


def _strategy(strategy: Mapping[str, Any]) -> str:
    """`RollingUpdate max_surge=1 max_unavailable=0` or `Recreate` (older plans: rolling)."""
    if strategy.get("type") == "Recreate":
        return "Recreate (every old pod stops before any new one starts)"
    return "RollingUpdate max_surge={max_surge} max_unavailable={max_unavailable}".format(
        **strategy
    )


def _describe_service(s: Mapping[str, Any]) -> None:
    _section("", [
        ("Name", s["name"]), ("Namespace", s["namespace"]), ("Type", s["type"]),
        ("Cluster IP", s["cluster_ip"] or "<none>"),
        ("LoadBalancer IP", s["load_balancer_ip"] or "<none>"),
        ("External name", s["external_name"] or "<none>"),
        ("Selector", ",".join(f"{k}={v}" for k, v in sorted(s["selector"].items()))
         or "<none>"),
        ("Session affinity", s["session_affinity"] or "None"),
    ])  # fmt: skip
    click.echo("Ports:")
    for p in s["ports"]:
        node = f", node port {p['node_port']}" if p["node_port"] else ""
        click.echo(f"  {p['port']}/{p['protocol']} -> {p['target_port']}{node}")
    click.echo("Endpoints:")
    for e in s["endpoints"] or []:
        state = "ready" if e["ready"] else "not ready"
        click.echo(f"  {e['address']:<21} {state:<9} {e['pod']} on {e['node']}")
    if not s["endpoints"]:
        click.echo("  <none>")


def _pods_table(rows: list[dict[str, Any]]) -> None:
    click.echo("Pods:")
    if not rows:
        click.echo("  <none>")
        return
    table(
        ["  NAME", "READY", "PHASE", "RESTARTS", "IP", "NODE"],
        [
            ["  " + p["name"], "yes" if p["ready"] else "no", p["phase"] or "<not reported>",
             str(p["restarts"]), p["ip"], p["node"]]
            for p in rows
        ],
    )  # fmt: skip


def _describe_pod(pod: Mapping[str, Any]) -> None:
    _section("", [
        ("Name", pod["name"]), ("Namespace", pod["namespace"]), ("Node", pod.get("node")),
        ("IP", pod.get("ip")), ("Phase", pod.get("phase")), ("Ready", pod.get("ready")),
        ("Started", pod.get("started_at")),
        ("Labels", ",".join(f"{k}={v}" for k, v in sorted((pod.get("labels") or {}).items()))),
        ("Reason", pod.get("reason") or ""), ("Message", pod.get("message") or ""),
    ])  # fmt: skip
    click.echo("Containers:")
    for c in pod.get("containers") or []:
        click.echo(f"  {c['name']}:")
        last = c.get("last_termination") or {}
        items = [
            ("Image", c.get("image")), ("Container ID", (c.get("container_id") or "")[:12]),
            ("State", c.get("state") + (f" ({c['reason']})" if c.get("reason") else "")),
            ("Ready", c.get("ready")), ("Restart count", c.get("restart_count")),
            ("Started", c.get("started_at")),
        ]  # fmt: skip
        if last:
            items.append(
                ("Last termination", f"{last.get('reason')} (exit code {last.get('exit_code')}) "
                                     f"at {last.get('finished_at')}")
            )  # fmt: skip
        for key, value in items:
            click.echo(f"    {key + ':':<18} {'' if value is None else value}")


def _describe_node(access: Any, name: str, store: Any) -> None:
    from podplay.control import agent_client
    from podplay.control.cluster_view import node_state, store_events_for

    node = access.node(name)
    client = access.client(node)
    # /v1/node carries the agent's readiness (as `get nodes` reads it): a node that is down
    # costs one timeout, not one for /healthz and another for /v1/node
    info: dict[str, Any] = {}
    try:
        info = client.node_info()
    except agent_client.AgentError as err:
        ready, message = False, str(err)
    else:
        ready = info.get("ready") is True
        message = "" if ready else (info.get("message") or "not ready")
    lease = node_state(store.view, name) if store.view is not None else None
    if lease is not None and lease["lease"] is False:  # the control plane counts it NotReady
        ready, message = False, lease["store_message"] + (f"; agent: {message}" if message else "")
    cap = info.get("capacity") or {}
    _section("", [
        ("Name", node.name), ("Address", node.address), ("Pod CIDR", node.pod_cidr),
        ("Container", node.container or "<none>"), ("Ready", ready),
        ("Message", "" if ready else message), ("Agent version", info.get("version")),
        ("Capacity", f"cpu {cap.get('cpu_millis')}m, memory {cap.get('memory_bytes')} bytes, "
                     f"pods {cap.get('pods')}" if cap else "<unknown>"),
        ("Lease", _lease_text(lease, store)),
    ])  # fmt: skip
    pods: list[dict[str, Any]] = []
    events: list[Mapping[str, Any]] = []
    if info:  # the agent answers (ready or not): it can list its pods and events
        try:
            pods = client.pods().get("pods", [])
            events = client.events()[-20:]
        except agent_client.AgentError as err:
            click.echo(f"warning: {err}", err=True)
    _pods_table(
        [
            {"name": p["name"], "ready": p.get("ready"), "phase": p.get("phase"),
             "restarts": sum(int(c.get("restart_count") or 0) for c in p.get("containers") or []),
             "ip": p.get("ip") or "", "node": node.name}
            for p in pods
        ]
    )  # fmt: skip
    from podplay.control.cluster_view import merge_events

    _events(merge_events(events, store_events_for(store.events(), nodes=[name])), [])


def _lease_text(lease: Mapping[str, Any] | None, store: Any) -> str:
    """The node's lease in the store, in words."""
    from podplay.control.cluster_view import clock

    if not store.consulted:
        return "<no store known here>"
    if store.view is None:
        return f"<unknown: {store.problem}>"
    if lease is None or lease["lease"] is None:
        return "<no node holds a lease>"
    if lease["lease"] is False:
        return "expired" + (f" (NotReady since {clock(lease['since'])})" if lease["since"] else "")
    return "held" + (f" (Ready since {clock(lease['since'])})" if lease["since"] else "")


__all__ = ["describe"]
