"""Events the automation API sends to `on_event` while it works, as frozen dataclasses.

They come from the engine's own reporter hooks (`podplay.control.reporter.Reporter`): the
engine calls `phase`, `info`, `warn`, `progress`, `ansible_line` and `playbook`, and
`EventReporter` turns each call into an event. Nothing is parsed from text.

An `on_event` that raises stops the operation: the CLI asks for confirmation on `Previewed`
(before `up` touches anything) and `DestroyPlanned`, and aborts by raising.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podplay.automation.results import PlaybookRun, PreviewResult, ResourceOperation
from podplay.control.progress import DeploymentProgress
from podplay.control.reporter import Reporter

if TYPE_CHECKING:
    from podplay.execute import PlaybookResult


@dataclass(frozen=True)
class ProgramEvaluated:
    """The program evaluated and validated; `warnings` are legal but probably unintended."""

    stack: str
    cluster: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhaseStarted:
    """A phase of the apply starts: evaluate, plan, images, cluster, converge, wait."""

    name: str
    detail: str = ""


@dataclass(frozen=True)
class InfoMessage:
    message: str


@dataclass(frozen=True)
class WarningMessage:
    """Something that did not stop the operation but should be known."""

    message: str


@dataclass(frozen=True)
class ResourceOperationEvent:
    """One resource's operation: `planned` once `up` has decided it, `done` once `up`
    committed it (every operation of an `up` is applied together by its playbooks)."""

    operation: ResourceOperation
    status: str  # "planned" | "done"


@dataclass(frozen=True)
class Previewed:
    """`up` has planned (the preview) and is about to apply; raise to stop it here."""

    preview: PreviewResult


@dataclass(frozen=True)
class DestroyPlanned:
    """`destroy` knows what it removes and is about to; raise to stop it here."""

    stack: str
    cluster: str
    cluster_local: bool
    keep_cluster: bool


@dataclass(frozen=True)
class DeploymentsProgress:
    """Deployments' progress while waiting (sent on every poll)."""

    title: str
    rows: tuple[DeploymentProgress, ...]


@dataclass(frozen=True)
class ProgressDone:
    """The wait the last `DeploymentsProgress` events belonged to is over."""


@dataclass(frozen=True)
class AnsibleOutput:
    """One line of ansible-playbook's output (only when asked for: `verbose=True`)."""

    line: str


@dataclass(frozen=True)
class PlaybookFinished:
    """An ansible-playbook run ended (ok or not), with its per-host stats."""

    run: PlaybookRun


Event = (
    ProgramEvaluated
    | PhaseStarted
    | InfoMessage
    | WarningMessage
    | ResourceOperationEvent
    | Previewed
    | DestroyPlanned
    | DeploymentsProgress
    | ProgressDone
    | AnsibleOutput
    | PlaybookFinished
)
OnEvent = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default `on_event`."""


class EventReporter(Reporter):
    """The engine's reporter hooks as events; keeps the playbook runs for the result."""

    def __init__(self, on_event: OnEvent | None = None) -> None:
        self.emit: OnEvent = on_event or ignore
        self.playbooks: list[PlaybookRun] = []
        self.last_phase: str | None = None

    def phase(self, name: str, detail: str = "") -> None:
        self.last_phase = name
        self.emit(PhaseStarted(name, detail))

    def info(self, message: str) -> None:
        self.emit(InfoMessage(message))

    def warn(self, message: str) -> None:
        self.emit(WarningMessage(message))

    def progress(self, title: str, rows: list[DeploymentProgress]) -> None:
        self.emit(DeploymentsProgress(title, tuple(rows)))

    def progress_done(self) -> None:
        self.emit(ProgressDone())

    def ansible_line(self, line: str) -> None:
        self.emit(AnsibleOutput(line))

    def playbook(self, name: str, result: PlaybookResult) -> None:
        run = PlaybookRun.of(name, result)
        self.playbooks.append(run)
        self.emit(PlaybookFinished(run))
