"""`podplay up PROGRAM [-y] [--stack NAME]`: one Python file to a running, verified app.

Evaluate and validate (a bad program exits 2 before anything is touched), build images,
plan against the stack's state, show the preview, confirm (unless -y or stdin is not a
terminal), then apply (`podplay.control.up`) and print how to reach every service.

A printer of `podplay.automation.Stack.up`: its events become lines and a live table
(`ConsoleEvents`), the confirmation is asked on its `Previewed` event.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from podplay.control.progress import DeploymentProgress
from podplay.errors import PodplayError

if TYPE_CHECKING:  # imported when a command runs (keeps `podplay --help` fast)
    from podplay.automation import Event, PreviewResult


class ConsoleEvents:
    """The automation API's events on the console: phases as lines, waits as a live table on
    a terminal (a line per change otherwise). Other events are not shown."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.live = None
        self._last = ""
        self._started = time.monotonic()

    def __call__(self, event: Event) -> None:
        from podplay import automation as a

        if isinstance(event, a.PhaseStarted):
            self.phase(event.name, event.detail)
        elif isinstance(event, a.InfoMessage):
            self.info(event.message)
        elif isinstance(event, a.WarningMessage):
            self.warn(event.message)
        elif isinstance(event, a.AnsibleOutput):
            self.ansible_line(event.line)
        elif isinstance(event, a.DeploymentsProgress):
            self.progress(event.title, list(event.rows))
        elif isinstance(event, a.ProgressDone):
            self.progress_done()

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


def _show_plan(p: PreviewResult, program: str, yes: bool, full: bool) -> None:
    """What `up` is about to do, then the confirmation (unless nothing changes)."""
    from podplay.cli.preview import print_changes, print_cluster_notes

    click.echo(f"Stack {p.stack}: program {program}, cluster {p.cluster}")
    if not p.cluster_exists and p.cluster_local:
        click.echo(f"  the local cluster {p.cluster} will be created")
    click.echo()
    print_cluster_notes(p)
    print_changes(p)
    if p.changes_pending or not p.cluster_exists:
        _confirm(yes)
    elif full:
        click.echo("No changes; converging every part of every node (--full).")
    else:
        click.echo("No changes (`--full` converges every part of every node anyway).")
    click.echo()


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
    from podplay import automation
    from podplay.cli.preview import print_warnings

    console = ConsoleEvents()

    def on_event(event: automation.Event) -> None:
        if isinstance(event, automation.ProgramEvaluated):
            print_warnings(event)
        elif isinstance(event, automation.Previewed):
            _show_plan(event.preview, program, yes, full)
        else:
            console(event)

    stack = automation.Stack.from_program(program, stack=stack_name)
    try:
        result = stack.up(on_event=on_event, verbose=verbose, full=full)
    except automation.Interrupted as err:
        raise Interrupted(
            f"interrupted; the journal in {err.state_directory} keeps what was started: "
            f"`podplay up {program}` finishes the job"
        ) from None
    click.echo()
    steps = f" in {result.stages} steps" if result.stages > 1 else ""
    click.echo(
        f"Up{steps} after {result.seconds:.1f} s: "
        f"{result.pods} pods available; ansible changed={result.changed} "
        f"(files in {result.build_directory})"
    )
    text = str(result.outputs)
    if text:
        click.echo()
        click.echo(text)


__all__ = ["up"]
