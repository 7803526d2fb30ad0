"""`podplay up PROGRAM [-y] [--stack NAME]`: one Python file to a running, verified app.

Evaluate and validate (a bad program exits 2 before anything is touched), build images,
plan against the stack's state, show the preview, confirm (unless -y or stdin is not a
terminal), then apply (`podplay.control.up`) and print how to reach every service.
"""

from __future__ import annotations

import sys
import time

import click

from podplay.control.progress import DeploymentProgress
from podplay.control.reporter import Reporter
from podplay.errors import PodplayError


class ConsoleReporter(Reporter):
    """Phases as lines, waits as a live table on a terminal (a line per change otherwise)."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.live = None
        self._last = ""
        self._started = time.monotonic()

    def phase(self, name: str, detail: str = "") -> None:
        self._stop_live()
        self.console.print(f"[bold]{name}[/bold]{': ' + detail if detail else ''}")

    def info(self, message: str) -> None:
        self._stop_live()
        self.console.print(f"  {message}", markup=False)

    def warn(self, message: str) -> None:
        self._stop_live()
        self.err.print(f"warning: {message}", markup=False, style="yellow")

    def ansible_line(self, line: str) -> None:
        self._stop_live()
        click.echo(line)

    def progress(self, title: str, rows: list[DeploymentProgress]) -> None:
        if not self.console.is_terminal:
            text = ", ".join(f"{r.namespace}/{r.name} {r.ready}/{r.desired} ready" for r in rows)
            line = f"  {title}: {text}"
            if line != self._last:
                self._last = line
                self.console.print(line, markup=False)
            return
        from rich.live import Live

        if self.live is None:
            self._started = time.monotonic()
            self.live = Live(console=self.console, refresh_per_second=8, transient=False)
            self.live.start()
        self.live.update(self._table(title, rows))

    def _table(self, title: str, rows: list[DeploymentProgress]):  # type: ignore[no-untyped-def]
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        elapsed = time.monotonic() - self._started
        table = Table(title=f"{title} ({elapsed:.0f} s)", title_justify="left", box=None)
        for column in ("DEPLOYMENT", "READY", "ROUTED", "", "WAITING FOR"):
            table.add_column(column, no_wrap=column != "WAITING FOR")
        for r in rows:
            done = r.routed if r.desired else 1
            table.add_row(
                f"{r.namespace}/{r.name}",
                f"{r.ready}/{r.desired}",
                f"{r.routed}/{r.desired}",
                ProgressBar(total=max(r.desired, 1), completed=done, width=20),
                "ok" if r.available else (r.waiting[0] if r.waiting else ""),
            )
        return table

    def progress_done(self) -> None:
        self._stop_live()
        self._last = ""

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


class Interrupted(PodplayError):
    """Ctrl-C while applying: the journal stays, the next `up` finishes."""

    exit_code = 130


def _confirm(yes: bool) -> None:
    if yes or not sys.stdin.isatty():
        return
    click.confirm("Do you want to perform this update?", default=False, abort=True)


@click.command("up")
@click.argument("program", type=click.Path(dir_okay=False))
@click.option("-y", "--yes", is_flag=True, help="Do not ask before applying.")
@click.option("--stack", "stack_name", help="Stack name (default: the program's cluster name).")
@click.option("-v", "--verbose", is_flag=True, help="Show ansible-playbook's output.")
@click.option(
    "--full",
    is_flag=True,
    help="Run every part of site.yml on every node (puts drift on the nodes right), not "
    "only the parts whose inputs changed since they were last applied.",
)
def up(program: str, yes: bool, stack_name: str | None, verbose: bool, full: bool) -> None:
    """Create or update the cluster and app PROGRAM describes, and wait until it is available.

    Only the parts of the nodes' configuration whose inputs changed are converged (a change
    of deployments or services: pods, images and routing); `--full` converges them all."""
    from podplay.cli.preview import print_changes, print_cluster_notes
    from podplay.control.outputs import format_outputs
    from podplay.control.prepare import Timer, default_stack, evaluate_program, prepare
    from podplay.control.prepare import stack_state as state_of
    from podplay.control.state import current_command
    from podplay.control.up import apply

    started = time.monotonic()
    timer = Timer()
    stack = evaluate_program(program, timer)
    for warning in stack.warnings:
        click.echo(f"warning: {warning}", err=True)
    name = stack_name or default_stack(stack)
    state = state_of(program, name)
    reporter = ConsoleReporter()
    with state.lock(current_command()):
        prep = prepare(program, stack, state, build=True, reporter=reporter, timer=timer)
        click.echo(f"Stack {name}: program {program}, cluster {prep.plan.cluster.name}")
        if not prep.target.exists and prep.target.local:
            click.echo(f"  the local cluster {prep.target.name} will be created")
        click.echo()
        print_cluster_notes(prep)
        print_changes(prep.changes)
        if prep.changes or prep.interrupted or not prep.target.exists:
            _confirm(yes)
        elif full:
            click.echo("No changes; converging every part of every node (--full).")
        else:
            click.echo("No changes (`--full` converges every part of every node anyway).")
        click.echo()
        try:
            result = apply(prep, reporter, verbose=verbose, full=full)
        except KeyboardInterrupt:
            reporter.progress_done()
            raise Interrupted(
                f"interrupted; the journal in {state.directory} keeps what was started: "
                f"`podplay up {program}` finishes the job"
            ) from None
    click.echo()
    steps = f" in {result.stages} steps" if result.stages > 1 else ""
    click.echo(
        f"Up{steps} after {time.monotonic() - started:.1f} s: "
        f"{len(result.plan.pods)} pods available; ansible changed={result.changed} "
        f"(files in {state.directory / 'build'})"
    )
    text = format_outputs(result.outputs)
    if text:
        click.echo()
        click.echo(text)


__all__ = ["up"]
