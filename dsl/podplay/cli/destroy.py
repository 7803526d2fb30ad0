"""`podplay destroy PROGRAM [-y] [--keep-cluster] [--stack NAME]`: remove everything the
program made.

A local cluster is deleted whole (containers, network, volumes, keys). With `--keep-cluster`,
or on real hosts, the nodes stay: pods, services, routing (the proxy's PODPLAY chains), DNS
entries, the agent and the proxy go. Either way the stack's state is forgotten.

Like `pulumi destroy`, it works from the stack's state when the program no longer evaluates
(or cannot be planned): it says so in one line and removes what the state describes
(`podplay.control.from_state`). With no state either, the program's error stands (exit 2).
A printer of `podplay.automation.Stack.destroy`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported when a command runs (keeps `podplay --help` fast)
    from podplay.automation import DestroyPlanned, Event


@click.command("destroy")
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("-y", "--yes", is_flag=True, help="Do not ask first.")
@click.option(
    "--stack",
    "stack_name",
    help="Stack name (default: the program's cluster name; when the program does not "
    "evaluate, the only stack with state beside it).",
)
@click.option(
    "--keep-cluster", is_flag=True, help="Keep the local cluster's nodes; remove only the app."
)
@click.option("-v", "--verbose", is_flag=True, help="Show ansible-playbook's output.")
def destroy(
    program: str, yes: bool, stack_name: str | None, keep_cluster: bool, verbose: bool
) -> None:
    """Remove the app PROGRAM describes and (unless --keep-cluster) its local cluster."""
    from podplay import automation
    from podplay.cli.up import ConsoleEvents

    console = ConsoleEvents()

    def on_event(event: Event) -> None:
        if isinstance(event, automation.DestroyPlanned):
            _confirm(event, yes)
        else:
            console(event)

    stack = automation.Stack.from_program(program, stack=stack_name)
    result = stack.destroy(keep_cluster=keep_cluster, on_event=on_event, verbose=verbose)
    name, cluster = result.stack, result.cluster
    if result.cluster_deleted:
        click.echo(f"Destroyed: local cluster {cluster} deleted, stack {name} forgotten.")
    elif result.skipped:
        left = "; ".join(str(n) for n in result.skipped)
        starts = [n.container for n in result.skipped if n.container]
        again = f"start it (docker start {' '.join(starts)}) and " if starts else ""
        click.echo(
            f"Destroyed what could be reached on cluster {cluster}; not reached: {left}. "
            f"Stack {name} is kept: {again}run destroy again to remove the rest."
        )
    elif result.pods_removed:
        click.echo(
            f"Destroyed: pods, services, routing and DNS entries removed from cluster "
            f"{cluster} (nodes kept); stack {name} forgotten."
        )
    else:
        click.echo(f"Nothing to destroy; stack {name} forgotten.")


def _confirm(planned: DestroyPlanned, yes: bool) -> None:
    if planned.cluster_local and not planned.keep_cluster:
        what = f"the local cluster {planned.cluster} and everything on it"
    else:
        what = f"every pod, service and route of stack {planned.stack} on cluster {planned.cluster}"
    if not yes and sys.stdin.isatty():
        click.confirm(f"Destroy {what}?", default=False, abort=True)


__all__ = ["destroy"]
