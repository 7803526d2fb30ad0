"""The first half of `podplay up` (and all of `preview`): decide everything, touch nothing.

    stack = evaluate_program(program, timer)                 # validate (exit 2 when bad)
    prepared = prepare(program, stack, state, build=True)   # facts, images, plan, diff

`prepare` finds the program's cluster (its node facts), reads the stack's state (the plan
applied last, and the journal an interrupted `up` left), refreshes it from the cluster's
store (`podplay.control.refresh`: the controller's moves; nodes whose lease expired are
NotReady, as are local nodes whose container is stopped), builds or looks up the images, and
plans against what the nodes run: the applied plan, the interrupted apply's plan when the
program is unchanged (it is resumed, `podplay.control.up`), or what the interrupted apply
may have left on the nodes when the program changed (`podplay.plan.rollout.in_flight`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from podplay.control import ownership
from podplay.control.images import BuiltImages, build_images, known_images
from podplay.control.refresh import lease_not_ready, refresh_plans, store_view
from podplay.control.reporter import Reporter
from podplay.control.state import StackState, stack_dir
from podplay.control.target import Target, check_some_ready, find_target
from podplay.dsl import ImageRef, Stack, evaluate, local_images
from podplay.plan import Change, Plan, diff, plan
from podplay.plan.refresh import Move
from podplay.plan.rollout import in_flight, same_plan

PHASES = ("evaluate", "plan", "images", "cluster", "converge", "wait")


class Timer:
    """Seconds spent per phase (a phase may be entered several times)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.monotonic() - started


@dataclass(frozen=True)
class Recorded:
    """What the stack's state says: the plan applied last, and the journal of an apply that
    did not finish (the plan it was applying, the plan it started from, how far it got)."""

    applied: Plan | None = None
    journal_plan: Plan | None = None
    journal_previous: Plan | None = None
    journal_stage: int = 0
    journal_phase: str | None = None

    @property
    def base(self) -> Plan | None:
        """The plan the next one is made stable against."""
        return self.journal_plan or self.applied


@dataclass
class Prepared:
    """A program evaluated and planned against its stack's state; nothing touched yet."""

    program: str
    stack: Stack
    state: StackState
    target: Target
    applied: Plan | None
    base: Plan | None
    journal_plan: Plan | None
    journal_previous: Plan | None
    journal_stage: int
    journal_phase: str | None
    plan: Plan
    changes: list[Change]
    images: BuiltImages | None
    timer: Timer
    moves: list[Move] = field(default_factory=list)  # the controller's, read from the store

    @property
    def interrupted(self) -> bool:
        """An earlier apply did not finish: `up` must converge even without changes."""
        return self.journal_plan is not None


def evaluate_program(program: str, timer: Timer) -> Stack:
    """Evaluate and validate (ProgramError, exit 2, before anything is touched)."""
    with timer("evaluate"):
        return evaluate(program)


def default_stack(stack: Stack) -> str:
    """The stack a program applies to unless `--stack` says otherwise: its cluster's name."""
    assert stack.cluster is not None
    return stack.cluster.name


def stack_state(program: str, stack_name: str) -> StackState:
    """The state store of `stack_name` for `program`."""
    return StackState(stack_dir(Path(program), stack_name))


def dump_plan(p: Plan | None) -> dict[str, Any] | None:
    """A plan as the state files hold it."""
    return None if p is None else p.model_dump(mode="json")


def prepare(
    program: str,
    stack: Stack,
    state: StackState,
    *,
    build: bool,
    reporter: Reporter | None = None,
    timer: Timer | None = None,
    refresh: bool = True,
) -> Prepared:
    """Facts, images (built when `build`, else only looked up) and the plan with its diff
    (against the state refreshed from the cluster's store, unless not `refresh`)."""
    reporter = reporter or Reporter()
    timer = timer or Timer()
    with timer("plan"):
        target = find_target(stack)
        if target.exists:  # one cluster, one stack
            ownership.check(target.name, state.directory, program)
        recorded, moves = read_recorded(state, reporter), []
        if refresh:
            recorded, target, moves = refreshed(recorded, stack, target, reporter)
        check_some_ready(target)
        if build:  # an infeasible program is refused before any image is built
            plan(stack, recorded.base, target.facts, local_images(stack))
    with timer("images"):
        built = build_images(stack, reporter.info) if build else None
        refs = built.refs if built is not None else known_images(stack, recorded.base)
    with timer("plan"):
        base, new, changes = plan_changes(stack, recorded, target, refs)
    return Prepared(
        program=program,
        stack=stack,
        state=state,
        target=target,
        applied=recorded.applied,
        base=base,
        journal_plan=recorded.journal_plan,
        journal_previous=recorded.journal_previous,
        journal_stage=recorded.journal_stage,
        journal_phase=recorded.journal_phase,
        plan=new,
        changes=changes,
        images=built,
        timer=timer,
        moves=moves,
    )


def read_recorded(state: StackState, reporter: Reporter) -> Recorded:
    """The stack's applied plan and journal (a plan another podplay version wrote is
    dropped with a warning: planning afresh beats failing)."""
    journal = state.journal()
    applied = _load(state.applied_plan(), "the stack's applied plan", reporter)
    if journal is None:
        return Recorded(applied=applied)
    return Recorded(
        applied=applied,
        journal_plan=_load(journal.plan, "the journal's plan", reporter),
        journal_previous=_load(journal.previous, "the journal's plan", reporter),
        journal_stage=journal.stage,
        journal_phase=journal.phase,
    )


def refreshed(
    recorded: Recorded, stack: Stack, target: Target, reporter: Reporter
) -> tuple[Recorded, Target, list[Move]]:
    """The recorded plans with the controller's moves written in, and the target with the
    nodes whose lease expired NotReady (`podplay.control.refresh`)."""
    applied = recorded.applied or recorded.journal_plan
    view = store_view(applied, target, reporter)
    if view is None:
        return recorded, target, []
    plans = [recorded.applied, recorded.journal_plan, recorded.journal_previous]
    (new_applied, journal_plan, journal_previous), moves = refresh_plans(plans, view, reporter)
    recorded = replace(
        recorded,
        applied=new_applied,
        journal_plan=journal_plan,
        journal_previous=journal_previous,
    )
    hosts = stack.cluster.nodes if stack.cluster is not None else None
    names = [n.name for n in hosts] if isinstance(hosts, list) else []  # pp.Node hosts
    return recorded, target.with_not_ready(lease_not_ready(view, applied), names), moves


def plan_changes(
    stack: Stack, recorded: Recorded, target: Target, refs: dict[str, ImageRef]
) -> tuple[Plan | None, Plan, list[Change]]:
    """(the plan planned against, the plan, the changes a preview shows).

    Resuming (the program is what an interrupted apply was applying): all that apply set out
    to do. The program changed after an apply stopped half way: planned against what the
    nodes may run now, so pods still serving are replaced one at a time, not dropped."""
    base = recorded.base
    new = plan(stack, base, target.facts, refs)
    if recorded.journal_plan is None:
        return base, new, diff(base, new)
    if same_plan(new, recorded.journal_plan):
        return base, new, diff(recorded.journal_previous, recorded.journal_plan)
    base = in_flight(recorded.journal_previous, recorded.journal_plan, recorded.journal_stage)
    new = plan(stack, base, target.facts, refs)
    return base, new, diff(base, new)


def _load(data: dict[str, Any] | None, what: str, reporter: Reporter) -> Plan | None:
    if data is None:
        return None
    try:
        return Plan.model_validate(data)
    except ValidationError:
        reporter.warn(f"{what} was written by another podplay version; planning afresh")
        return None
