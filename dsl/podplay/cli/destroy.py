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
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported when a command runs (keeps `podplay --help` fast)
    from podplay.control.reporter import Reporter
    from podplay.control.state import StackState
    from podplay.control.target import Target
    from podplay.dsl import Stack
    from podplay.plan import Plan


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
    from podplay.control.destroy import destroy as destroy_stack
    from podplay.control.state import current_command

    reporter = ConsoleReporter()
    stack, state, problem = _evaluate(program, stack_name)
    name = state.directory.name
    with state.lock(current_command()):
        target, described = _described(program, stack, state, problem, keep_cluster, reporter)
        _confirm(target, name, keep_cluster, yes)
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
    elif result.skipped:
        left = "; ".join(str(n) for n in result.skipped.values())
        starts = [n.container for n in result.skipped.values() if n.container]
        again = f"start it (docker start {' '.join(starts)}) and " if starts else ""
        click.echo(
            f"Destroyed what could be reached on cluster {target.name}; not reached: {left}. "
            f"Stack {name} is kept: {again}run destroy again to remove the rest."
        )
    elif result.pods_removed:
        click.echo(
            f"Destroyed: pods, services, routing and DNS entries removed from cluster "
            f"{target.name} (nodes kept); stack {name} forgotten."
        )
    else:
        click.echo(f"Nothing to destroy; stack {name} forgotten.")


def _evaluate(
    program: str, stack_name: str | None
) -> tuple[Stack | None, StackState, Exception | None]:
    """(the program's stack, its state, None); for a program that does not evaluate (syntax,
    validation, unreadable): (None, the state that may stand in for it, the error)."""
    from podplay.control import from_state
    from podplay.control.prepare import Timer, default_stack, evaluate_program, stack_state
    from podplay.errors import UserInputError

    try:
        stack = evaluate_program(program, Timer())
    except UserInputError as err:
        return None, from_state.find_stack(Path(program), stack_name, err), err
    return stack, stack_state(program, stack_name or default_stack(stack)), None


def _described(
    program: str,
    stack: Stack | None,
    state: StackState,
    problem: Exception | None,
    keep_cluster: bool,
    reporter: Reporter,
) -> tuple[Target, Plan]:
    """(target, plan) to destroy: the program's, or what the stack's state records when the
    program does not evaluate or cannot be planned (a warning names the program's error)."""
    from podplay.control import from_state
    from podplay.control.prepare import prepare
    from podplay.dsl import ProgramError
    from podplay.errors import EnvironmentProblem

    why = "does not evaluate"
    if stack is not None:
        try:  # the controller's moves do not matter here: every pod goes
            prep = prepare(program, stack, state, build=False, reporter=reporter, refresh=False)
            return prep.target, prep.plan
        except (ProgramError, EnvironmentProblem) as err:  # nodes=4 on 3; no node running
            if not from_state.has_state(state.directory):
                whole = stack.cluster is not None and stack.cluster.local and not keep_cluster
                if isinstance(err, EnvironmentProblem) and whole:  # deleted as it is
                    found = from_state.local_cluster(program, stack, state)
                    return found.target, found.plan
                raise
            problem, why = err, "cannot be planned"
    assert problem is not None
    found = from_state.recorded(state, program, keep_cluster=keep_cluster)
    reporter.warn(
        f"{program} {why} ({from_state.first_line(problem)}); destroying what "
        f"stack {state.directory.name}'s state describes ({found.source})"
    )
    return found.target, found.plan


def _confirm(target: Target, name: str, keep_cluster: bool, yes: bool) -> None:
    if target.local and not keep_cluster:
        what = f"the local cluster {target.name} and everything on it"
    else:
        what = f"every pod, service and route of stack {name} on cluster {target.name}"
    if not yes and sys.stdin.isatty():
        click.confirm(f"Destroy {what}?", default=False, abort=True)


__all__ = ["destroy"]
