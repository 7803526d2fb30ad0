"""`podplay get deployments|services`: the applied plan joined with what the agents report.

Registered onto the `get` group of `podplay.cli.get` (pods, nodes) by `register(get)`; the
four resources share the cluster options and the table/JSON output (`podplay.cli.output`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from podplay.cli.output import cluster_options, print_json, table, warn


def _live(cluster_name: str | None, inventory: Path | None) -> tuple[Any, Any, list[Any]]:
    """(cluster access, applied plan, live pods) for a cluster; the plan has the pods the
    cluster's controller moved where the store says they are."""
    from podplay.control import agent_client
    from podplay.control.cluster_view import with_moves
    from podplay.control.inspect import load_applied_plan

    access = agent_client.cluster_access(cluster_name, inventory)
    plan, store = with_moves(load_applied_plan(access.name, inventory), access.name, inventory)
    pods, problems = agent_client.all_pods(access)
    if store.problem:
        problems.append(f"{store.problem}: pods are shown where the last up put them")
    warn(problems)
    return access, plan, pods


def deployments_cmd(
    cluster_name: str | None, inventory: Path | None, output: str, namespace: str | None
) -> None:
    """Deployments: desired and ready pods, up to date with the current template."""
    from podplay.control.inspect import deployments

    access, plan, pods = _live(cluster_name, inventory)
    rows = [d for d in deployments(plan, pods) if namespace in (None, d["namespace"])]
    if output == "json":
        print_json({"cluster": access.name, "deployments": rows})
        return
    columns = ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE"]
    if output == "wide":
        columns += ["IMAGES", "SELECTOR", "TEMPLATE"]
    cells = []
    for d in rows:
        row = [
            d["namespace"],
            d["name"],
            f"{d['ready']}/{d['replicas']}",
            str(d["up_to_date"]),
            str(d["available"]),
        ]
        if output == "wide":
            row += [
                ",".join(i or "" for i in d["images"]),
                ",".join(f"{k}={v}" for k, v in sorted(d["labels"].items())),
                d["template_hash"],
            ]
        cells.append(row)
    if not cells:
        click.echo(f"no deployments on cluster {access.name}", err=True)
        return
    table(columns, cells)


def services_cmd(
    cluster_name: str | None, inventory: Path | None, output: str, namespace: str | None
) -> None:
    """Services: type, addresses, ports and how many endpoints are ready."""
    from podplay.control.inspect import ports_text, services

    access, plan, pods = _live(cluster_name, inventory)
    rows = [s for s in services(plan, pods) if namespace in (None, s["namespace"])]
    if output == "json":
        print_json({"cluster": access.name, "services": rows})
        return
    columns = ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "ENDPOINTS"]
    if output == "wide":
        columns += ["SELECTOR"]
    cells = []
    for s in rows:
        pods_behind = {e["pod"]: e["ready"] for e in s["endpoints"]}
        ready = sum(1 for ok in pods_behind.values() if ok)
        external = s["load_balancer_ip"] or s["external_name"] or "<none>"
        row = [
            s["namespace"],
            s["name"],
            s["type"],
            s["cluster_ip"] or "<none>",
            external,
            ports_text(s),
            f"{ready}/{len(pods_behind)}" if s["type"] != "ExternalName" else "-",
        ]
        if output == "wide":
            row.append(",".join(f"{k}={v}" for k, v in sorted(s["selector"].items())) or "<none>")
        cells.append(row)
    if not cells:
        click.echo(f"no services on cluster {access.name}", err=True)
        return
    table(columns, cells)


def register(group: click.Group) -> None:
    """Add `deployments` and `services` to the `get` group."""
    namespace = click.option("--namespace", "-n", help="Only this namespace (default: all).")
    group.command("deployments")(cluster_options(namespace(deployments_cmd)))
    group.command("services")(cluster_options(namespace(services_cmd)))
