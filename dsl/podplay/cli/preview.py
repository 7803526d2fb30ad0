"""`podplay preview PROGRAM [--json] [--expect-no-changes]`: what `up` would change.

Touches nothing: the program is evaluated and planned against its stack's state; images are
not built (their ids are looked up on the local engine, read only). `--expect-no-changes`
makes pending changes an error, for CI. A printer of `podplay.automation.Stack.preview`.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from podplay.errors import PodplayError

if TYPE_CHECKING:  # imported when a command runs (keeps `podplay --help` fast)
    from podplay.automation import Event, PreviewResult, ResourceOperation

STYLES = {"+": "green", "~": "yellow", "-": "red", "+-": "magenta"}


class ChangesPending(PodplayError):
    """`--expect-no-changes` and there are changes."""

    exit_code = 1


def change_json(c: ResourceOperation) -> dict[str, object]:
    return {
        "op": c.op,
        "kind": c.kind,
        "name": c.name,
        "namespace": c.namespace,
        "fields": list(c.fields),
        "replaces": c.replaces,
        "rollout": c.rollout,
    }


def print_changes(preview: PreviewResult, *, err: bool = False) -> None:
    """The per-resource diff, coloured on a terminal, and its summary line."""
    from rich.console import Console
    from rich.text import Text

    stream = sys.stderr if err else sys.stdout
    console = Console(file=stream, highlight=False, soft_wrap=True)
    for c in preview.operations:
        console.print(Text(f"  {c}", style=STYLES.get(c.op, "")))
    if preview.operations:
        console.print()
    console.print(f"Resources: {preview.summary}")


def print_cluster_notes(preview: PreviewResult) -> None:
    """What the cluster did since the last `up` (the controller's moves, read from the
    store) and the nodes planned around (NotReady), a line each."""
    for move in preview.moves:
        click.echo(f"  refreshed: {move} (by the cluster's controller)")
    for node in preview.not_ready:
        click.echo(f"  {node}: its pods are planned on Ready nodes")
    if preview.moves or preview.not_ready:
        click.echo()


def print_warnings(event: Event) -> None:
    """The program's warnings and what went wrong on the way, on stderr; nothing else."""
    from podplay.automation import ProgramEvaluated, WarningMessage

    if isinstance(event, ProgramEvaluated):
        for warning in event.warnings:
            click.echo(f"warning: {warning}", err=True)
    elif isinstance(event, WarningMessage):
        click.echo(f"warning: {event.message}", err=True)


def preview_json(p: PreviewResult) -> dict[str, object]:
    """`preview --json`."""
    return {
        "stack": p.stack,
        "cluster": p.cluster,
        "cluster_exists": p.cluster_exists,
        "interrupted": p.interrupted,
        "changes": [change_json(c) for c in p.operations],
        "summary": str(p.summary),
        "not_known_yet": list(p.not_known_yet),
        "moved": [
            {"namespace": m.namespace, "name": m.name, "from": m.from_node,
             "to": m.to_node, "ip": m.ip, "reason": m.reason}
            for m in p.moves
        ],
        "not_ready": [{"node": n.node, "why": n.why} for n in p.not_ready],
    }  # fmt: skip


@click.command("preview")
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("--stack", "stack_name", help="Stack name (default: the program's cluster name).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable changes.")
@click.option(
    "--expect-no-changes", is_flag=True, help="Exit with status 1 when there are changes (CI)."
)
def preview(program: str, stack_name: str | None, as_json: bool, expect_no_changes: bool) -> None:
    """Show what `podplay up PROGRAM` would change, touching nothing."""
    from podplay.automation import Stack

    p = Stack.from_program(program, stack=stack_name).preview(on_event=print_warnings)
    if as_json:
        click.echo(json.dumps(preview_json(p), indent=2))
    else:
        click.echo(f"Previewing stack {p.stack} (program {program}, cluster {p.cluster})")
        click.echo()
        print_cluster_notes(p)
        print_changes(p)
        if p.interrupted:
            click.echo(
                f"An earlier up was interrupted (phase {p.journal_phase}); up will finish it."
            )
        if not p.cluster_exists and p.cluster_local:
            click.echo(f"The local cluster {p.cluster} does not exist yet; up creates it.")
    if expect_no_changes and p.changes_pending:
        what = str(p.summary) if p.operations else "an interrupted up to finish"
        raise ChangesPending(f"changes pending ({what}) but --expect-no-changes was given")


__all__ = ["preview"]
