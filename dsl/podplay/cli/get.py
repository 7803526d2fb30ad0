"""`podplay get pods|nodes`: what is running, read live from the node agents (kubectl-like).

Each resource is one small function that fetches rows and one that turns a row into table
cells; add a resource by adding both and a subcommand. Deployments and services (the applied
plan joined with the agents' pods) are in `podplay.cli.get_workloads`; the options and the
table/JSON output every resource shares in `podplay.cli.output`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from podplay.cli.get_workloads import register as register_workloads
from podplay.cli.output import cluster_options, print_json, table, warn


@click.group()
def get() -> None:
    """Show pods, nodes, deployments or services of a cluster, live from its node agents."""


@get.command("pods")
@cluster_options
@click.option("--namespace", "-n", help="Only this namespace (default: all).")
@click.option("--selector", "-l", help="Only pods with these labels: key=value[,key=value].")
def pods_cmd(
    cluster_name: str | None,
    inventory: Path | None,
    output: str,
    namespace: str | None,
    selector: str | None,
) -> None:
    """Pods: name, namespace, node, IP, phase, readiness, restarts, containers.

    A node whose agent does not answer: its pods as the applied plan places them, with
    STATUS Unknown (as kubectl shows the pods of a node it lost touch with)."""
    from podplay.control import agent_client
    from podplay.control.cluster_view import with_moves
    from podplay.control.inspect import applied_plan_if_any, unknown_pods

    access = agent_client.cluster_access(cluster_name, inventory)
    pods, unreachable = agent_client.pods_by_node(access)
    problems = list(unreachable.values())
    applied = applied_plan_if_any(access.name, inventory) if unreachable else None
    if applied is not None:  # where the plan, refreshed from the store, has the lost pods
        applied, _store = with_moves(applied, access.name, inventory)
        assert applied is not None
        seen = {(p["namespace"], p["name"]) for p in pods}  # a moved pod runs elsewhere
        lost = [
            p for p in unknown_pods(applied, unreachable) if (p["namespace"], p["name"]) not in seen
        ]
        pods = sorted(pods + lost, key=lambda p: (p["namespace"], p["name"], p["node"]))
        warn([f"{msg}; its pods are shown as the applied plan has them" for msg in problems])
    else:
        warn([f"{msg}; its pods are not listed (no applied plan to tell)" for msg in problems])
    wanted = _selector(selector)
    pods = [
        p
        for p in pods
        if (namespace is None or p["namespace"] == namespace)
        and all((p.get("labels") or {}).get(k) == v for k, v in wanted.items())
    ]
    if output == "json":
        print_json({"cluster": access.name, "pods": pods, "unreachable": problems})
        return
    if not pods:
        click.echo(f"no pods on cluster {access.name}", err=True)
        return
    columns = ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "IP", "NODE"]
    if output == "wide":
        columns += ["STARTED", "CONTAINERS"]
    table(columns, [pod_row(p, output == "wide") for p in pods])


@get.command("nodes")
@cluster_options
def nodes_cmd(cluster_name: str | None, inventory: Path | None, output: str) -> None:
    """Nodes: name, readiness (the agent's, and the node's lease in the store: NotReady
    since when), address, pod CIDR, container (local clusters)."""
    from podplay.control import agent_client
    from podplay.control.cluster_view import open_store
    from podplay.control.inspect import applied_plan_if_any

    access = agent_client.cluster_access(cluster_name, inventory)
    store = open_store(access.name, inventory, applied_plan_if_any(access.name, inventory))
    rows = []
    # /v1/node carries the agent's readiness too: one request per node, so a node that is
    # down costs one timeout, not two
    for node, answer in access.each(lambda c: c.node_info()):
        row: dict[str, Any] = {
            "name": node.name,
            "address": node.address,
            "pod_cidr": node.pod_cidr,
            "container": node.container or None,
        }
        if isinstance(answer, Exception):
            row.update(ready=False, message=str(answer))
        else:
            info = answer
            ready = info.get("ready") is True
            row.update(
                ready=ready,
                message=None if ready else (info.get("message") or "not ready"),
                version=info.get("version"),
                pods=info.get("pods"),
                capacity=info.get("capacity"),
                allocatable=info.get("allocatable"),
            )
        rows.append(with_lease(row, store.view))
    if store.problem:
        warn([f"{store.problem}: nodes are shown as their agents say"])
    if output == "json":
        doc = {"reachable": store.view is not None, "message": store.problem}
        print_json({"cluster": access.name, "nodes": rows, "store": doc})
        return
    leases = store.view is not None and store.view.leases_kept
    columns = ["NAME", "STATUS", "ADDRESS", "POD CIDR", "CONTAINER"] + (["SINCE"] if leases else [])
    if output == "wide":
        columns += ["VERSION", "PODS", "CPU", "MEMORY", "MESSAGE"]
    table(columns, [node_row(r, output == "wide", leases) for r in rows])


def with_lease(row: dict[str, Any], view: Any) -> dict[str, Any]:
    """The agent's row with what the store says: a node whose lease expired is NotReady
    (the control plane acts on that) since when the leader saw it go."""
    from podplay.control.cluster_view import node_state

    if view is None:
        return row
    state = node_state(view, row["name"])
    row.update(lease=state["lease"], since=state["since"])
    if state["lease"] is False:
        agent = row.get("message")
        row["message"] = state["store_message"] + (f"; agent: {agent}" if agent else "")
        row["ready"] = False
    return row


# -- rows ---------------------------------------------------------------------------------


def pod_status_word(p: dict[str, Any]) -> str:
    """What kubectl's STATUS column shows: a waiting reason beats the phase."""
    if p.get("reason") == "Terminating":
        return "Terminating"
    for c in p.get("containers") or []:
        if c.get("state") == "waiting" and c.get("reason") not in (None, "ContainerCreating"):
            return c["reason"]
    if p.get("phase") == "Failed" and p.get("reason"):
        return p["reason"]
    if p.get("phase") == "Pending":
        return "ContainerCreating" if p.get("containers") else "Pending"
    return p.get("phase") or "Unknown"


def pod_row(p: dict[str, Any], wide: bool = False) -> list[str]:
    containers = p.get("containers") or []
    ready = sum(1 for c in containers if c.get("ready"))
    restarts = sum(int(c.get("restart_count") or 0) for c in containers)
    unknown = any(c.get("restart_count") is None for c in containers)  # node not answering
    row = [
        p["namespace"],
        p["name"],
        f"{ready}/{len(containers)}",
        pod_status_word(p),
        "-" if unknown else str(restarts),
        p.get("ip") or "<none>",
        p.get("node") or "",
    ]
    if wide:
        row.append(p.get("started_at") or "")
        row.append(",".join(f"{c['name']}:{c.get('state')}" for c in containers))
    return row


def node_row(r: dict[str, Any], wide: bool = False, since: bool = False) -> list[str]:
    import time

    from podplay.control.cluster_view import duration

    row = [
        r["name"],
        "Ready" if r.get("ready") else "NotReady",
        r["address"],
        r.get("pod_cidr") or "",
        r.get("container") or "",
    ]
    if since:
        row.append(duration(time.time() - r["since"]) if r.get("since") else "")
    if wide:
        cap = r.get("capacity") or {}
        mem = cap.get("memory_bytes")
        row += [
            r.get("version") or "",
            "" if r.get("pods") is None else str(r["pods"]),
            f"{cap['cpu_millis']}m" if cap.get("cpu_millis") else "",
            f"{mem // (1024 * 1024)}Mi" if mem else "",
            r.get("message") or "",
        ]
    return row


# -- options ------------------------------------------------------------------------------


def _selector(text: str | None) -> dict[str, str]:
    from podplay.errors import UserInputError

    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UserInputError(f"--selector: {part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


# deployments and services (the applied plan joined with the agents' pods) live beside.
register_workloads(get)
