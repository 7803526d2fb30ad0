"""`podplay preview PROGRAM [--json] [--expect-no-changes]`: what `up` would change.

Touches nothing: the program is evaluated and planned against its stack's state; images are
not built (their ids are looked up on the local engine, read only). `--expect-no-changes`
makes pending changes an error, for CI.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from podplay.control.reporter import Reporter
from podplay.errors import PodplayError
from podplay.plan import Change
from podplay.plan.diff import summary

if TYPE_CHECKING:  # imported when a command runs (keeps `podplay --help` fast)
    from podplay.control.prepare import Prepared

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


def print_cluster_notes(prep: Prepared) -> None:
    """What the cluster did since the last `up` (the controller's moves, read from the
    store) and the nodes planned around (NotReady), a line each."""
    for move in prep.moves:
        click.echo(f"  refreshed: {move} (by the cluster's controller)")
    for node in prep.target.not_ready:
        click.echo(f"  {node}: its pods are planned on Ready nodes")
    if prep.moves or prep.target.not_ready:
        click.echo()


class _Warnings(Reporter):
    """`preview` says nothing while it plans, but what went wrong on the way (stderr)."""

    def warn(self, message: str) -> None:
        click.echo(f"warning: {message}", err=True)


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
    prep = prepare(program, stack, state, build=False, reporter=_Warnings())
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
            "moved": [
                {"namespace": m.namespace, "name": m.name, "from": m.from_node,
                 "to": m.to_node, "ip": m.ip, "reason": m.reason}
                for m in prep.moves
            ],
            "not_ready": [{"node": n.node, "why": n.why} for n in prep.target.not_ready],
        }  # fmt: skip
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"Previewing stack {name} (program {program}, cluster {prep.plan.cluster.name})")
        click.echo()
        print_cluster_notes(prep)
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
