"""`Stack`: a podplay program driven from Python, as Pulumi's automation API drives its own.

    stack = Stack.from_program("app.py")                 # or Stack.from_function(fn, name=...)
    print(stack.preview().summary)                       # touches nothing
    result = stack.up(on_event=print)                    # events while it works
    print(result.outputs.exports, [p.playbook for p in result.playbooks])
    stack.destroy()

Each operation evaluates the program afresh (as each CLI command does) and runs the same
engine as the CLI (`podplay.control`: prepare, apply, destroy); the CLI's `preview`, `up` and
`destroy` are printers of these results and events. Errors are typed
(`podplay.automation.errors`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podplay.automation.errors import (
    ConvergeFailed,
    InfeasiblePlan,
    Interrupted,
    NotApplied,
    ValidationError,
    planning_errors,
    program_errors,
)
from podplay.automation.events import (
    DestroyPlanned,
    EventReporter,
    OnEvent,
    Previewed,
    ProgramEvaluated,
    ResourceOperationEvent,
)
from podplay.automation.results import (
    ChangeSummary,
    DestroyResult,
    Outputs,
    PlaybookRun,
    PreviewResult,
    ResourceOperation,
    UpResult,
)
from podplay.control.prepare import Prepared, Timer, default_stack, prepare, stack_state
from podplay.control.state import StackState, current_command
from podplay.dsl import Stack as Declared
from podplay.dsl import evaluate
from podplay.dsl.validate import validate
from podplay.errors import EnvironmentProblem, UserInputError

if TYPE_CHECKING:
    from podplay.control.target import Target
    from podplay.plan import Plan


@dataclass(frozen=True)
class _Program:
    """Where the resources come from: a file, or a function run inside a fresh stack."""

    path: str  # the file, or (a function) a name in `directory` the state is kept beside
    function: Callable[[], object] | None = None
    directory: Path | None = None

    def declare(self) -> Declared:
        """The validated resources (ValidationError when the program is wrong)."""
        with program_errors():
            if self.function is None:
                return evaluate(self.path)
            declared = Declared(program=self.path, base_dir=self.directory)
            with declared:
                self.function()
            validate(declared)
            return declared


class Stack:
    """One program applied as one stack (its state in `.podplay/<stack>/` beside it)."""

    def __init__(self, program: _Program, stack: str | None = None) -> None:
        self._program = program
        self._stack = stack

    @classmethod
    def from_program(cls, program: str | Path, *, stack: str | None = None) -> Stack:
        """A program file (Python, or Kubernetes YAML); `stack` defaults to its cluster's
        name."""
        return cls(_Program(str(program)), stack)

    @classmethod
    def from_function(
        cls,
        fn: Callable[[], object],
        *,
        name: str,
        directory: str | Path | None = None,
        stack: str | None = None,
    ) -> Stack:
        """A function that declares resources with the DSL (`pp.Cluster(...)`, ...), run
        inside a fresh stack on each operation. `name` stands for the program's file in
        messages and ownership records; image contexts and the state are found in
        `directory` (default: the working directory). An exception of the function's own
        is raised as it is."""
        base = Path(directory) if directory is not None else Path.cwd()
        return cls(_Program(str(base / name), fn, base), stack)

    @property
    def program(self) -> str:
        return self._program.path

    def _declared(self, reporter: EventReporter) -> tuple[Declared, str]:
        """The program's resources and the stack's name; `ProgramEvaluated` sent."""
        declared = self._program.declare()
        name = self._stack or default_stack(declared)
        cluster = declared.cluster.name if declared.cluster is not None else ""
        warnings = tuple(str(w) for w in declared.warnings)
        reporter.emit(ProgramEvaluated(name, cluster, warnings))
        return declared, name

    def _state(self, name: str) -> StackState:
        return stack_state(self.program, name)

    def preview(self, *, on_event: OnEvent | None = None) -> PreviewResult:
        """What `up` would change; touches nothing (images are looked up, not built)."""
        reporter = EventReporter(on_event)
        declared, name = self._declared(reporter)
        state = self._state(name)
        with planning_errors():
            prep = prepare(self.program, declared, state, build=False, reporter=reporter)
        return preview_of(prep, name)

    def up(
        self,
        *,
        on_event: OnEvent | None = None,
        verbose: bool = False,
        wait_timeout: float | None = None,
        full: bool = False,
    ) -> UpResult:
        """Build images, create the cluster if needed, converge, wait until every deployment
        is available, commit. `verbose`: ansible-playbook's output as `AnsibleOutput`
        events. `on_event` may raise on `Previewed` to stop before anything is applied.
        `full`: every part of site.yml on every node, not only the parts that changed."""
        from podplay.control.up import WAIT_TIMEOUT, apply

        started = time.monotonic()
        reporter = EventReporter(on_event)
        timer = Timer()
        with timer("evaluate"):
            declared, name = self._declared(reporter)
        state = self._state(name)
        with state.lock(current_command()):
            with planning_errors():
                prep = prepare(
                    self.program, declared, state, build=True, reporter=reporter, timer=timer
                )
            preview = preview_of(prep, name)
            for op in preview.operations:
                reporter.emit(ResourceOperationEvent(op, "planned"))
            reporter.emit(Previewed(preview))
            try:
                with planning_errors():
                    done = apply(
                        prep,
                        reporter,
                        verbose=verbose,
                        wait_timeout=wait_timeout or WAIT_TIMEOUT,
                        full=full,
                    )
            except KeyboardInterrupt:
                reporter.progress_done()
                raise Interrupted(state.directory) from None
            except EnvironmentProblem as err:
                runs = tuple(reporter.playbooks)
                raise ConvergeFailed(str(err), reporter.last_phase, runs) from err
        for op in preview.operations:
            reporter.emit(ResourceOperationEvent(op, "done"))
        return UpResult(
            stack=name,
            preview=preview,
            outputs=Outputs.of(done.outputs),
            playbooks=tuple(PlaybookRun.of(book, r) for book, r in done.playbooks),
            pods=len(done.plan.pods),
            stages=done.stages,
            created_cluster=done.created_cluster,
            resumed_stage=done.resumed_stage,
            timings=dict(done.timings),
            seconds=time.monotonic() - started,
            build_directory=state.directory / "build",
        )

    def destroy(
        self,
        *,
        keep_cluster: bool = False,
        on_event: OnEvent | None = None,
        verbose: bool = False,
    ) -> DestroyResult:
        """Remove what the program made: its local cluster whole, or (`keep_cluster`, or real
        hosts) the app from the nodes. When the program no longer evaluates or cannot be
        planned, what its stack's state records is destroyed (a `WarningMessage` says so)."""
        from podplay.control.destroy import destroy as destroy_stack

        reporter = EventReporter(on_event)
        declared, state, problem = self._destroy_source(reporter)
        name = state.directory.name
        with state.lock(current_command()):
            target, described, source = self._described(
                declared, state, problem, keep_cluster, reporter
            )
            reporter.emit(DestroyPlanned(name, target.name, target.local, keep_cluster))
            try:
                out = destroy_stack(
                    self.program,
                    target,
                    state,
                    described,
                    keep_cluster=keep_cluster,
                    reporter=reporter,
                    verbose=verbose,
                )
            except EnvironmentProblem as err:
                runs = tuple(reporter.playbooks)
                raise ConvergeFailed(str(err), reporter.last_phase, runs) from err
        return DestroyResult(
            stack=name,
            cluster=target.name,
            cluster_local=target.local,
            keep_cluster=keep_cluster,
            cluster_deleted=out.cluster_deleted,
            pods_removed=out.pods_removed,
            skipped=tuple(out.skipped.values()),
            playbooks=tuple(PlaybookRun.of(book, r) for book, r in out.playbooks),
            source=source,
        )

    def outputs(self) -> Outputs:
        """The outputs of the stack's last completed `up` (NotApplied when there was none)."""
        name = self._stack or self._declared(EventReporter())[1]
        data = self._state(name).outputs()
        if data is None:
            raise NotApplied(f"stack {name} has no outputs: no up of {self.program} completed")
        return Outputs.of(data)

    def _destroy_source(
        self, reporter: EventReporter
    ) -> tuple[Declared | None, StackState, UserInputError | None]:
        """(the program's resources, its state, None); for a program that does not evaluate:
        (None, the state that may stand in for it, the program's error)."""
        from podplay.control import from_state

        try:
            declared, name = self._declared(reporter)
        except UserInputError as err:
            return None, from_state.find_stack(Path(self.program), self._stack, err), err
        return declared, self._state(name), None

    def _described(
        self,
        declared: Declared | None,
        state: StackState,
        problem: Exception | None,
        keep_cluster: bool,
        reporter: EventReporter,
    ) -> tuple[Target, Plan, str]:
        """(target, plan, where it came from) to destroy: the program's, or what the stack's
        state records when the program does not evaluate or cannot be planned."""
        from podplay.control import from_state

        why = "does not evaluate"
        if declared is not None:
            try:  # the controller's moves do not matter here: every pod goes
                with planning_errors():
                    prep = prepare(
                        self.program, declared, state, build=False, reporter=reporter, refresh=False
                    )
                return prep.target, prep.plan, "program"
            except (ValidationError, InfeasiblePlan, EnvironmentProblem) as err:  # nodes=4 on 3
                if not from_state.has_state(state.directory):
                    cluster = declared.cluster
                    whole = cluster is not None and cluster.local and not keep_cluster
                    if isinstance(err, EnvironmentProblem) and whole:  # deleted as it is
                        found = from_state.local_cluster(self.program, declared, state)
                        return found.target, found.plan, "program"
                    raise
                problem, why = err, "cannot be planned"
        assert problem is not None
        found = from_state.recorded(state, self.program, keep_cluster=keep_cluster)
        reporter.warn(
            f"{self.program} {why} ({from_state.first_line(problem)}); destroying what "
            f"stack {state.directory.name}'s state describes ({found.source})"
        )
        return found.target, found.plan, str(found.source)


def preview_of(prep: Prepared, name: str) -> PreviewResult:
    """The preview a prepared program makes."""
    operations = tuple(ResourceOperation.of(c) for c in prep.changes)
    return PreviewResult(
        stack=name,
        program=prep.program,
        cluster=prep.plan.cluster.name,
        cluster_exists=prep.target.exists,
        cluster_local=prep.target.local,
        operations=operations,
        summary=ChangeSummary.of(operations),
        interrupted=prep.interrupted,
        journal_phase=prep.journal_phase,
        not_known_yet=tuple(prep.plan.pending),
        moves=tuple(prep.moves),
        not_ready=tuple(prep.target.not_ready),
        warnings=tuple(str(w) for w in prep.stack.warnings),
    )
