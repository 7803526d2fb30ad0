"""`podplay verify PROGRAM [-- PYTEST_ARGS]`: testinfra checks generated from the applied plan.

Every node healthy, every pod running on its planned node with its IP, every service's
routing present and reachable from every node, cluster DNS answering: one pytest case each
(`podplay.verify.plan_checks`). Exit status 0 when all pass, 1 when any fails.
"""

from __future__ import annotations

from pathlib import Path

import click

from podplay.errors import PodplayError


class ChecksFailed(PodplayError):
    """Some checks failed (pytest said which)."""

    exit_code = 1


@click.command(
    "verify", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--stack", "stack_name", help="Stack name (default: the program's cluster name).")
@click.option("-q", "--quiet", is_flag=True, help="One character per check instead of a line.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def verify(program: str, stack_name: str | None, quiet: bool, pytest_args: tuple[str, ...]) -> None:
    """Check the running cluster against PROGRAM's applied plan (pytest-testinfra)."""
    from podplay.control.prepare import Timer, default_stack, evaluate_program, stack_state
    from podplay.errors import UserInputError
    from podplay.verify.runner import run_checks

    stack = evaluate_program(program, Timer())
    name = stack_name or default_stack(stack)
    state = stack_state(program, name)
    if state.applied_plan() is None:
        raise UserInputError(
            f"stack {name} of {program} has nothing applied to verify: run `podplay up "
            f"{program}` first"
        )
    if state.journal() is not None:
        click.echo(
            "warning: an up of this stack was interrupted; checking the last complete one",
            err=True,
        )
    status = run_checks(Path(program), state, pytest_args, verbose=not quiet)
    if status != 0:
        raise ChecksFailed(f"verify: checks failed for stack {name} (pytest status {status})")


__all__ = ["verify"]
