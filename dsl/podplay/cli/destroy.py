"""`podplay destroy PROGRAM [-y] [--keep-cluster]`: remove everything the program made.

A local cluster is deleted whole (containers, network, volumes, keys). With `--keep-cluster`,
or on real hosts, the nodes stay: pods, services, routing (the proxy's PODPLAY chains), DNS
entries, the agent and the proxy go. Either way the stack's state is forgotten.
"""

from __future__ import annotations

import sys

import click


@click.command("destroy")
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("-y", "--yes", is_flag=True, help="Do not ask first.")
@click.option("--stack", "stack_name", help="Stack name (default: the program's cluster name).")
@click.option(
    "--keep-cluster", is_flag=True, help="Keep the local cluster's nodes; remove only the app."
)
@click.option("-v", "--verbose", is_flag=True, help="Show ansible-playbook's output.")
def destroy(
    program: str, yes: bool, stack_name: str | None, keep_cluster: bool, verbose: bool
) -> None:
    """Remove the app PROGRAM describes and (unless --keep-cluster) its local cluster."""
    from podplay.cli.up import ConsoleReporter
    from podplay.control.state import current_command
    from podplay.control.up import Timer, default_stack, evaluate_program, prepare, stack_state
    from podplay.control.up import destroy as destroy_stack

    stack = evaluate_program(program, Timer())
    name = stack_name or default_stack(stack)
    state = stack_state(program, name)
    reporter = ConsoleReporter()
    with state.lock(current_command()):
        prep = prepare(program, stack, state, build=False, reporter=reporter)
        target = prep.target
        if target.local and not keep_cluster:
            what = f"the local cluster {target.name} and everything on it"
        else:
            what = f"every pod, service and route of stack {name} on cluster {target.name}"
        if not yes and sys.stdin.isatty():
            click.confirm(f"Destroy {what}?", default=False, abort=True)
        result = destroy_stack(prep, keep_cluster=keep_cluster, reporter=reporter, verbose=verbose)
    if result.cluster_deleted:
        click.echo(f"Destroyed: local cluster {target.name} deleted, stack {name} forgotten.")
    elif result.pods_removed:
        click.echo(
            f"Destroyed: pods, services, routing and DNS entries removed from cluster "
            f"{target.name} (nodes kept); stack {name} forgotten."
        )
    else:
        click.echo(f"Nothing to destroy; stack {name} forgotten.")


__all__ = ["destroy"]
