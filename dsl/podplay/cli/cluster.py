"""`podplay cluster create|delete|list`: local clusters of node containers (like kind)."""

from __future__ import annotations

import json
import time

import click

from podplay.node.contract import defaults


def _log(msg: str) -> None:
    click.echo(f"  {msg}", err=True)


@click.group()
def cluster() -> None:
    """Local clusters whose nodes are containers on this machine's Docker engine."""


@cluster.command()
@click.argument("name")
@click.option("--nodes", "-n", type=int, default=3, show_default=True, help="Number of nodes.")
@click.option("--no-configure", is_flag=True, help="Only start the nodes; skip nodes.yml.")
@click.option("--retain", is_flag=True, help="Keep what was made when creation fails.")
@click.option("--verbose", "-v", is_flag=True, help="Stream ansible-playbook's output.")
@click.option(
    "--pod-cidr",
    default=defaults.POD_CIDR,
    show_default=True,
    help="Cluster pod CIDR; node i gets its i-th /24 (a program's pp.Cluster(pod_cidr=...)).",
)
@click.option(
    "--service-cidr", default=defaults.SERVICE_CIDR, show_default=True, help="Service virtual IPs."
)
def create(
    name: str,
    nodes: int,
    no_configure: bool,
    retain: bool,
    verbose: bool,
    pod_cidr: str,
    service_cidr: str,
) -> None:
    """Create cluster NAME: network, node containers, SSH key, inventory, node roles."""
    from podplay import substrate
    from podplay.substrate import model

    model.validate_name(name)
    model.validate_node_count(nodes)
    model.validate_cidrs(pod_cidr, service_cidr, nodes)
    started = time.monotonic()
    made = substrate.create_cluster(
        name,
        nodes,
        configure=not no_configure,
        retain_on_failure=retain,
        log=_log,
        verbose=verbose,
        pod_cidr=pod_cidr,
        service_cidr=service_cidr,
    )
    click.echo(f"cluster {name} ready in {time.monotonic() - started:.1f}s", err=True)
    for node in made.nodes:
        click.echo(f"  {node.name}  {node.container}  {node.address}  pods {node.pod_cidr}")
    click.echo(f"inventory: {made.inventory}")


@cluster.command()
@click.argument("name")
def delete(name: str) -> None:
    """Delete cluster NAME: containers, network, volumes, keys. Deleting twice is fine."""
    from podplay import substrate

    existed = substrate.delete_cluster(name)
    click.echo(
        f"cluster {name} {'deleted' if existed else 'did not exist; nothing to do'}", err=True
    )


@cluster.command("list")
@click.option(
    "--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def list_cmd(output: str) -> None:
    """List local clusters and their nodes."""
    from podplay import substrate

    clusters = substrate.list_clusters()
    if output == "json":
        click.echo(json.dumps({"clusters": [c.as_dict() for c in clusters]}, indent=2))
        return
    if not clusters:
        click.echo("no local clusters", err=True)
        return
    rows = [("CLUSTER", "NODE", "CONTAINER", "ADDRESS", "POD CIDR", "STATE")] + [
        (c.name, n.name, n.container, n.address, n.pod_cidr, n.state)
        for c in clusters
        for n in c.nodes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo(
            "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
