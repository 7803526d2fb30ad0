"""`podplay preview PROGRAM [--json] [--expect-no-changes]`: what `up` would change.

Touches nothing: the program is evaluated and planned against its stack's state; images are
not built (their ids are looked up on the local engine, read only). `--expect-no-changes`
makes pending changes an error, for CI.
"""

from __future__ import annotations

import json
import sys

import click

from podplay.errors import PodplayError
from podplay.plan import Change
from podplay.plan.diff import summary

STYLES = {"+": "green", "~": "yellow", "-": "red", "+-": "magenta"}


class ChangesPending(PodplayError):
    """`--expect-no-changes` and there are changes."""

    exit_code = 1


def change_json(c: Change) -> dict[str, object]:
    return {
        "op": c.op,
        "kind": c.kind,
        "name": c.name,
        "namespace": c.namespace,
        "fields": list(c.fields),
        "replaces": c.replaces,
        "rollout": c.rollout,
    }


def print_changes(changes: list[Change], *, err: bool = False) -> None:
    """The per-resource diff, coloured on a terminal, and its summary line."""
    from rich.console import Console
    from rich.text import Text

    stream = sys.stderr if err else sys.stdout
    console = Console(file=stream, highlight=False, soft_wrap=True)
    for c in changes:
        console.print(Text(f"  {c}", style=STYLES.get(c.op, "")))
    if changes:
        console.print()
    console.print(f"Resources: {summary(changes)}")


@click.command("preview")
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--stack", "stack_name", help="Stack name (default: the program's cluster name).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable changes.")
@click.option(
    "--expect-no-changes", is_flag=True, help="Exit with status 1 when there are changes (CI)."
)
def preview(program: str, stack_name: str | None, as_json: bool, expect_no_changes: bool) -> None:
    """Show what `podplay up PROGRAM` would change, touching nothing."""
    from podplay.control.prepare import (
        Timer,
        default_stack,
        evaluate_program,
        prepare,
        stack_state,
    )

    stack = evaluate_program(program, Timer())
    for warning in stack.warnings:
        click.echo(f"warning: {warning}", err=True)
    name = stack_name or default_stack(stack)
    state = stack_state(program, name)
    prep = prepare(program, stack, state, build=False)
    pending = prep.changes or prep.interrupted
    if as_json:
        doc = {
            "stack": name,
            "cluster": prep.plan.cluster.name,
            "cluster_exists": prep.target.exists,
            "interrupted": prep.interrupted,
            "changes": [change_json(c) for c in prep.changes],
            "summary": summary(prep.changes),
            "not_known_yet": list(prep.plan.pending),
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"Previewing stack {name} (program {program}, cluster {prep.plan.cluster.name})")
        click.echo()
        print_changes(prep.changes)
        if prep.interrupted:
            click.echo(
                f"An earlier up was interrupted (phase {prep.journal_phase}); up will finish it."
            )
        if not prep.target.exists and prep.target.local:
            click.echo(f"The local cluster {prep.target.name} does not exist yet; up creates it.")
    if expect_no_changes and pending:
        what = summary(prep.changes) if prep.changes else "an interrupted up to finish"
        raise ChangesPending(f"changes pending ({what}) but --expect-no-changes was given")


__all__ = ["preview"]
