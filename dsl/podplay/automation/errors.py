"""The automation API's errors: what went wrong, as types a caller can catch and read.

Each one is a `podplay.errors.PodplayError` with the message and exit status of the error it
stands for, so the CLI (which prints `error: <message>` and exits with `exit_code`) says
exactly what it said before the API existed:

- `ValidationError` (exit 2): the program is wrong; `.file`, `.line`, `.field` of its first
  problem, every problem in `.diagnostics`. Nothing was touched.
- `InfeasiblePlan` (exit 2): the program is valid but cannot be planned on its cluster (more
  replicas than nodes allow, an address outside a range). Nothing was touched.
- `ConvergeFailed` (exit 1): applying failed (a playbook, a wait); `.phase`, `.playbooks`
  (every ansible-playbook run so far, the failed one included) and `.failed_playbook`.
- `Interrupted` (exit 130): Ctrl-C while applying; the journal keeps what was started.
- `NotApplied` (exit 2): `outputs()` of a stack that was never brought up.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podplay.dsl import Diagnostic, ProgramError
from podplay.errors import EnvironmentProblem, PodplayError, UserInputError

if TYPE_CHECKING:
    from podplay.automation.results import PlaybookRun

PLANNER_PACKAGE = "podplay.plan"


@dataclass(frozen=True)
class Problem:
    """One finding about the program: where (file, line), which resource (`subject`, as
    `Service "web"`), which argument (`field`, as `ports[0].port`, when the check knows it)
    and what is wrong and allowed (`message`)."""

    file: str | None
    line: int | None
    subject: str | None
    field: str | None
    message: str

    @classmethod
    def of(cls, d: Diagnostic) -> Problem:
        location = d.location
        return cls(
            file=location.file if location else None,
            line=location.line if location else None,
            subject=d.subject,
            field=d.field,
            message=d.message,
        )

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where] if self.file else []
        return ": ".join([*parts, *([self.subject] if self.subject else []), self.message])


class _ProgramProblems(UserInputError):
    """A program error as data: `diagnostics` and its first problem's file, line and field."""

    def __init__(self, message: str, diagnostics: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics

    @property
    def file(self) -> str | None:
        return self.diagnostics[0].file if self.diagnostics else None

    @property
    def line(self) -> int | None:
        return self.diagnostics[0].line if self.diagnostics else None

    @property
    def field(self) -> str | None:
        return self.diagnostics[0].field if self.diagnostics else None

    @property
    def subject(self) -> str | None:
        return self.diagnostics[0].subject if self.diagnostics else None

    @classmethod
    def of(cls, err: UserInputError) -> _ProgramProblems:
        found = getattr(err, "diagnostics", ())
        problems = tuple(Problem.of(d) for d in found if isinstance(d, Diagnostic))
        return cls(str(err), problems)


class ValidationError(_ProgramProblems):
    """The program does not evaluate or is invalid (a field's value, a duplicate name, the
    program's own exception, a file that cannot be read)."""


class InfeasiblePlan(_ProgramProblems):
    """The program cannot be planned on its cluster (the planner refused it)."""


class ConvergeFailed(EnvironmentProblem):
    """Applying the plan failed: a playbook run (`failed_playbook`) or a wait for the pods."""

    def __init__(self, message: str, phase: str | None, playbooks: tuple[PlaybookRun, ...]):
        super().__init__(message)
        self.phase = phase
        self.playbooks = playbooks

    @property
    def failed_playbook(self) -> PlaybookRun | None:
        """The playbook run that failed (None when a wait failed, not a playbook)."""
        failed = [p for p in self.playbooks if not p.ok]
        return failed[-1] if failed else None


class Interrupted(PodplayError):
    """Ctrl-C while applying: the stack's journal keeps what was started; `up` again
    finishes the job."""

    exit_code = 130

    def __init__(self, state_directory: Path) -> None:
        super().__init__(
            f"interrupted; the journal in {state_directory} keeps what was started: "
            "up again finishes the job"
        )
        self.state_directory = state_directory


class NotApplied(UserInputError):
    """`outputs()` of a stack with no completed `up`."""


def raised_by_planner(err: BaseException) -> bool:
    """The error came out of the planner (`podplay.plan`), not out of evaluating the
    program or finding its images: what makes a ProgramError an infeasible plan."""
    frames: list[types.FrameType] = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    innermost = frames[-1].f_globals.get("__name__", "") if frames else ""
    return innermost == PLANNER_PACKAGE or innermost.startswith(PLANNER_PACKAGE + ".")


@contextmanager
def program_errors() -> Iterator[None]:
    """Evaluating: every bad-input error of the program becomes a ValidationError."""
    try:
        yield
    except _ProgramProblems:
        raise
    except UserInputError as err:
        raise ValidationError.of(err) from err


@contextmanager
def planning_errors() -> Iterator[None]:
    """Planning: the planner's refusals become InfeasiblePlan, the program's other errors
    (an image context missing, an image that does not build) ValidationError."""
    try:
        yield
    except _ProgramProblems:
        raise
    except ProgramError as err:
        kind = InfeasiblePlan if raised_by_planner(err) else ValidationError
        raise kind.of(err) from err
