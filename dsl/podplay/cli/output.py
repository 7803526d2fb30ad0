"""How the read commands (`get`, `describe`) show what they found: kubectl's look.

The cluster options every resource takes, borderless tables with upper-case headers, JSON
for machines, and warnings on stderr. Shared by `podplay.cli.get` (pods, nodes),
`podplay.cli.get_workloads` (deployments, services) and `podplay.cli.describe`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

OUTPUTS = ("table", "wide", "json")


def cluster_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """-c/--cluster, -i/--inventory and -o/--output, shared by every resource."""
    f = click.option(
        "--output", "-o", type=click.Choice(OUTPUTS), default="table", show_default=True,
        help="table, wide (more columns) or json.",
    )(f)  # fmt: skip
    f = click.option(
        "--inventory", "-i", type=click.Path(dir_okay=False, path_type=Path),
        help="An inventory with podplay_nodes (clusters not made by `cluster create`).",
    )(f)  # fmt: skip
    f = click.option(
        "--cluster", "-c", "cluster_name", metavar="CLUSTER",
        help="Cluster name (default: $PODPLAY_CLUSTER, or the only local cluster).",
    )(f)  # fmt: skip
    return f


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """kubectl's look: upper-case headers, no borders, columns as wide as their cells."""
    import io

    from rich.console import Console
    from rich.table import Table

    grid = Table(box=None, padding=(0, 3, 0, 0), pad_edge=False, show_edge=False)
    for c in columns:
        grid.add_column(c, no_wrap=True, overflow="ignore")
    for r in rows:
        grid.add_row(*r)
    buf = io.StringIO()
    Console(file=buf, width=10_000, highlight=False, color_system=None).print(grid)
    for line in buf.getvalue().splitlines():
        click.echo(line.rstrip())


def print_json(doc: Any) -> None:
    """`-o json`: indented, keys sorted (stable for diffs and scripts)."""
    click.echo(json.dumps(doc, indent=2, sort_keys=True))


def warn(problems: Sequence[str]) -> None:
    """One `warning:` line on stderr per problem (an agent that did not answer ...)."""
    for msg in problems:
        click.echo(f"warning: {msg}", err=True)
