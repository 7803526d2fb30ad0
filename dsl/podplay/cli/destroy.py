"""`podplay destroy PROGRAM [-y] [--keep-cluster] [--stack NAME]`: remove everything the
program made.

A local cluster is deleted whole (containers, network, volumes, keys). With `--keep-cluster`,
or on real hosts, the nodes stay: pods, services, routing (the proxy's PODPLAY chains), DNS
entries, the agent and the proxy go. Either way the stack's state is forgotten.

Like `pulumi destroy`, it works from the stack's state when the program no longer evaluates
(or cannot be planned): it says so in one line and removes what the state describes
(`podplay.control.from_state`). With no state either, the program's error stands (exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


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
    from podplay.cli.up import ConsoleReporter
    from podplay.control import from_state
    from podplay.control.state import current_command
    from podplay.control.up import Timer, default_stack, evaluate_program, prepare, stack_state
    from podplay.control.up import destroy as destroy_stack
    from podplay.dsl import ProgramError
    from podplay.errors import UserInputError

    reporter = ConsoleReporter()
    problem: Exception | None = None
    why = ""
    try:
        stack = evaluate_program(program, Timer())
    except UserInputError as err:  # syntax, validation, unreadable: the state may stand in
        stack, problem, why = None, err, "does not evaluate"
        state = from_state.find_stack(Path(program), stack_name, err)
        name = state.directory.name
    else:
        name = stack_name or default_stack(stack)
        state = stack_state(program, name)
    with state.lock(current_command()):
        if stack is not None:
            try:
                prep = prepare(program, stack, state, build=False, reporter=reporter)
                target, described = prep.target, prep.plan
            except ProgramError as err:  # e.g. nodes=4 on a cluster made with 3
                if not from_state.has_state(state.directory):
                    raise
                stack, problem, why = None, err, "cannot be planned"
        if stack is None:
            found = from_state.recorded(state, program, keep_cluster=keep_cluster)
            target, described = found.target, found.plan
            reporter.warn(
                f"{program} {why} ({from_state.first_line(problem)}); destroying what "
                f"stack {name}'s state describes ({found.source})"
            )
        if target.local and not keep_cluster:
            what = f"the local cluster {target.name} and everything on it"
        else:
            what = f"every pod, service and route of stack {name} on cluster {target.name}"
        if not yes and sys.stdin.isatty():
            click.confirm(f"Destroy {what}?", default=False, abort=True)
        result = destroy_stack(
            program,
            target,
            state,
            described,
            keep_cluster=keep_cluster,
            reporter=reporter,
            verbose=verbose,
        )
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
