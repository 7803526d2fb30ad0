"""`podplay up`: one program to a running, available app, and the same engine for preview.

    prepared = prepare(program, stack, state, build=True)   # evaluate, images, plan, diff
    result = apply(prepared, reporter)                       # cluster, converge, wait, commit

Pure core, effectful shell: everything is decided (the plan and, for a changed pod template,
the rollout's stages) before anything on a host is touched. Applying goes stage by stage:

1. the journal records the plan being applied, the plan it starts from and the stage reached,
   so an interrupted (or failed) `up` is finished by the next one: the same stages, resumed;
   or, when the program changed meanwhile, a plan made against what the nodes may still run
   (the stage reached and the one before it), so pods still serving are replaced in order;
2. before pods that serve traffic are removed, every node's routing drops them (their
   endpoints leave `cluster.json`, then each node's proxy status is read until none routes to
   them), and only then their manifests go;
3. after each rollout step that creates pods, those pods must be ready AND routed on every
   node before the next step removes old ones (max_unavailable 0 means what it says);
4. at the end every deployment must be available, then the plan becomes the stack's state.

Every converge is a real ansible-playbook run over the rendered build directory; a plan
with no changes still runs `site.yml` once, so drift on the nodes is put right.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from podplay import paths, substrate
from podplay.artifacts import pki
from podplay.artifacts.bundle import ensure_bundle
from podplay.artifacts.images import BuiltImage, ensure_pause_image
from podplay.control import ownership
from podplay.control.agent_client import access_from_inventory, all_pods
from podplay.control.images import BuiltImages, build_images, known_images
from podplay.control.inspect import applied_plan_path
from podplay.control.outputs import outputs
from podplay.control.progress import endpoint_key, routed_pods
from podplay.control.reporter import Reporter
from podplay.control.state import StackState, current_command, stack_dir, write_json_atomic
from podplay.control.target import Target, find_target
from podplay.control.waiting import Probe, wait_available, wait_unrouted
from podplay.control.workspace import Workspace
from podplay.dsl import Stack, evaluate, local_images
from podplay.execute import PlaybookResult
from podplay.plan import Change, Plan, diff, plan, stages
from podplay.plan.services import endpoints_for
from podplay.render import ImageFile, RenderOptions

PHASES = ("evaluate", "plan", "images", "cluster", "converge", "wait")
WAIT_TIMEOUT = float(os.environ.get("PODPLAY_WAIT_TIMEOUT", "300"))
DRAIN_TIMEOUT = 20.0
DRAIN_SETTLE = 1.0  # requests already in flight to a drained pod finish before it stops

LAST_UP = "last-up.json"
NODE_BUNDLE_ENV = "PODPLAY_NODE_BUNDLE"


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

    @property
    def interrupted(self) -> bool:
        """An earlier apply did not finish: `up` must converge even without changes."""
        return self.journal_plan is not None


@dataclass
class UpResult:
    """What an apply did."""

    plan: Plan
    changes: list[Change]
    outputs: dict[str, Any]
    playbooks: list[tuple[str, PlaybookResult]]
    timings: dict[str, float]
    created_cluster: bool = False
    resumed_stage: int | None = None
    stages: int = 1

    @property
    def changed(self) -> int:
        """Task results that changed something, over every playbook run."""
        return sum(r.changed for _, r in self.playbooks)


@dataclass
class DestroyResult:
    """What a destroy did."""

    cluster_deleted: bool = False
    pods_removed: bool = False
    playbooks: list[tuple[str, PlaybookResult]] = field(default_factory=list)


def evaluate_program(program: str, timer: Timer) -> Stack:
    """Evaluate and validate (ProgramError, exit 2, before anything is touched)."""
    with timer("evaluate"):
        return evaluate(program)


def default_stack(stack: Stack) -> str:
    """The stack a program applies to unless `--stack` says otherwise: its cluster's name."""
    assert stack.cluster is not None
    return stack.cluster.name


def _load(data: dict[str, Any] | None, what: str, reporter: Reporter) -> Plan | None:
    if data is None:
        return None
    try:
        return Plan.model_validate(data)
    except ValidationError:
        reporter.warn(f"{what} was written by another podplay version; planning afresh")
        return None


def _dump(p: Plan | None) -> dict[str, Any] | None:
    return None if p is None else p.model_dump(mode="json")


def prepare(
    program: str,
    stack: Stack,
    state: StackState,
    *,
    build: bool,
    reporter: Reporter | None = None,
    timer: Timer | None = None,
) -> Prepared:
    """Facts, images (built when `build`, else only looked up) and the plan with its diff."""
    reporter = reporter or Reporter()
    timer = timer or Timer()
    with timer("plan"):
        target = find_target(stack)
        if target.exists:  # one cluster, one stack
            ownership.check(target.name, state.directory, program)
        journal = state.journal()
        applied = _load(state.applied_plan(), "the stack's applied plan", reporter)
        journal_plan = _load(journal.plan, "the journal's plan", reporter) if journal else None
        journal_previous = (
            _load(journal.previous, "the journal's plan", reporter)
            if journal and journal.previous
            else None
        )
        base = journal_plan or applied
        if build:  # an infeasible program is refused before any image is built
            plan(stack, base, target.facts, local_images(stack))
    with timer("images"):
        if build:
            built: BuiltImages | None = build_images(stack, reporter.info)
            refs = built.refs
        else:
            built = None
            refs = known_images(stack, base)
    with timer("plan"):
        new = plan(stack, base, target.facts, refs)
        shown_from, shown_to = base, new
        if journal_plan is not None and same_plan(new, journal_plan):
            # resuming: show all the interrupted apply set out to do
            shown_from, shown_to = journal_previous, journal_plan
        elif journal_plan is not None:
            # the program changed after an apply stopped half way: plan against what the
            # nodes may run now, so pods still serving are replaced one at a time, not dropped
            base = in_flight(journal_previous, journal_plan, journal.stage if journal else 0)
            new = plan(stack, base, target.facts, refs)
            shown_from, shown_to = base, new
        changes = diff(shown_from, shown_to)
    return Prepared(
        program=program,
        stack=stack,
        state=state,
        target=target,
        applied=applied,
        base=base,
        journal_plan=journal_plan,
        journal_previous=journal_previous,
        journal_stage=journal.stage if journal else 0,
        journal_phase=journal.phase if journal else None,
        plan=new,
        changes=changes,
        images=built,
        timer=timer,
    )


def same_plan(a: Plan, b: Plan) -> bool:
    """Equal but for the rollout (which only says how `a` was reached)."""
    strip = {"rollout": [], "pending": []}
    return a.model_copy(update=strip) == b.model_copy(update=strip)


def in_flight(previous: Plan | None, target: Plan, stage: int) -> Plan:
    """What the nodes may run after an apply from `previous` to `target` stopped at rollout
    `stage`: that stage's pods and those of the stage before it (it may be half applied).

    A failed or interrupted rollout leaves old pods serving next to new ones that may never
    become ready; a changed program must replace all of them, one at a time."""
    plans = stages(previous, target) if previous is not None else [target]
    stage = min(max(stage, 0), len(plans) - 1)
    here = plans[stage]
    before = plans[stage - 1] if stage > 0 else previous
    names = {(p.namespace, p.name) for p in here.pods}
    extra = [p for p in (before.pods if before else []) if (p.namespace, p.name) not in names]
    if not extra:
        return here.model_copy(update={"rollout": []})
    pods = sorted([*here.pods, *extra], key=lambda p: (p.namespace, p.deployment, p.serial))
    services = [s.model_copy(update={"endpoints": endpoints_for(s, pods)}) for s in here.services]
    return here.model_copy(update={"pods": pods, "services": services, "rollout": []})


def removed_endpoints(current: Plan, nxt: Plan) -> list[str]:
    """Endpoints (`ns/pod@ip`) of pods that serve traffic now and are not in `nxt`."""
    keep = {(p.namespace, p.name) for p in nxt.pods}
    serving = routed_pods(current)
    return sorted(
        endpoint_key(p.namespace, p.name, p.ip)
        for p in current.pods
        if (p.namespace, p.name) in serving and (p.namespace, p.name) not in keep
    )


def drained(current: Plan, nxt: Plan) -> Plan:
    """`current`'s pods, with routing already as `nxt` will have it for them: the pods that
    are about to go are no service's endpoint any more."""
    keep = {(p.namespace, p.name) for p in nxt.pods}
    services = [
        s.model_copy(update={"endpoints": [e for e in s.endpoints if (e.namespace, e.pod) in keep]})
        for s in current.services
    ]
    return current.model_copy(update={"services": services, "rollout": []})


def render_options(
    program: str, target: Target, pause: BuiltImage, archives: dict[str, str]
) -> RenderOptions:
    """Controller-side paths the roles need: collection, node bundle, token, image archives.

    `$PODPLAY_NODE_BUNDLE` names a bundle to ship instead of the one built from this code
    (tests pin one per session while the code around them changes)."""
    return RenderOptions(
        collections_path=str(paths.collections_path()),
        program=program,
        node_bundle=os.environ.get(NODE_BUNDLE_ENV) or str(ensure_bundle()),
        agent_token_file=target.token_file,
        pki_dir=target.pki_dir,
        pause_image=ImageFile(**pause.as_var()),
        image_archives=archives,
    )


def ensure_certificates(target: Target, desired: Plan) -> None:
    """The cluster CA and certificates the `control_plane` role installs (made once, node
    certificates re-issued when a node's address changed)."""
    nodes = [(n.name, n.address) for n in desired.nodes]
    pki.ensure_pki(Path(target.pki_dir), desired.cluster.name, nodes)


def _probe(workspace: Workspace, cluster: str) -> Probe:
    return Probe(access=access_from_inventory(workspace.inventory, cluster))


def apply(
    prep: Prepared,
    reporter: Reporter | None = None,
    *,
    verbose: bool = False,
    wait_timeout: float = WAIT_TIMEOUT,
) -> UpResult:
    """Create the cluster if needed, converge stage by stage, wait, commit. Hold the lock."""
    reporter = reporter or Reporter()
    state, timer, stack = prep.state, prep.timer, prep.stack
    command = current_command()
    target, desired = prep.target, prep.plan
    before, start = prep.applied, 0
    resumed: int | None = None
    if prep.journal_plan is not None:
        if same_plan(desired, prep.journal_plan):  # finish exactly what was started
            desired, before = prep.journal_plan, prep.journal_previous
            start = resumed = prep.journal_stage
            reporter.info(
                f"resuming an interrupted up (phase {prep.journal_phase}, stage {start + 1})"
            )
        else:  # prepare() planned against what the interrupted apply may have left
            before = prep.base
            reporter.info("an earlier up was interrupted; converging to the program as it is now")
    built = prep.images
    if built is None:
        with timer("images"):
            built = build_images(stack, reporter.info)
    created = False
    if target.local and not target.exists:
        state.begin(_dump(desired), command, previous=None)
        reporter.phase(
            "cluster", f"creating local cluster {target.name} ({target.node_count} nodes)"
        )
        with timer("cluster"):
            substrate.create_cluster(
                target.name,
                target.node_count,
                configure=False,
                log=reporter.info,
                pod_cidr=stack.cluster.pod_cidr,  # type: ignore[union-attr]
                service_cidr=stack.cluster.service_cidr,  # type: ignore[union-attr]
                control_plane=len(desired.control_plane()) or None,
            )
            target = find_target(stack)
        with timer("plan"):
            desired = plan(stack, prep.base, target.facts, built.refs)
        before, start, created = None, 0, True
    ownership.claim(target.name, state.directory, prep.program)
    state.begin(_dump(desired), command, previous=_dump(before), stage=start)
    ensure_certificates(target, desired)

    workspace = Workspace(
        state.directory / "build",
        render_options(prep.program, target, built.pause, dict(built.archives)),
    )
    plans = stages(before, desired) if before is not None else [desired]
    if not 0 <= start < len(plans):
        start = 0
    probe: Probe | None = None
    results: list[tuple[str, PlaybookResult]] = []
    current = plans[start - 1] if start > 0 else before
    for i in range(start, len(plans)):
        stage = plans[i]
        state.advance("converge", i)
        label = f"step {i + 1}/{len(plans)}" if len(plans) > 1 else ""
        if current is not None:
            gone = removed_endpoints(current, stage)
            if gone:
                reporter.phase("converge", f"draining {len(gone)} endpoint(s) {label}".strip())
                with timer("converge"):
                    workspace.write(drained(current, stage))
                    results.append(("stage.yml", _run(workspace, "stage.yml", verbose, reporter)))
                probe = probe or _probe(workspace, target.name)
                with timer("wait"):
                    wait_unrouted(stage, gone, probe, reporter, timeout=DRAIN_TIMEOUT)
                    time.sleep(DRAIN_SETTLE)
        # the first converge of a run applies every role (and so puts drift right); the steps
        # after it only change pods and routing
        book = "stage.yml" if _ran(results, "site.yml") else "site.yml"
        reporter.phase("converge", f"ansible-playbook {book} {label}".strip())
        with timer("converge"):
            workspace.write(stage)
            results.append((book, _run(workspace, book, verbose, reporter)))
        if i < len(plans) - 1:
            before_keys = {(p.namespace, p.name) for p in current.pods} if current else set()
            new_pods = {(p.namespace, p.name) for p in stage.pods} - before_keys
            if new_pods:
                probe = probe or _probe(workspace, target.name)
                with timer("wait"):
                    wait_available(
                        stage,
                        probe,
                        reporter,
                        title=f"rollout {label}: new pods ready and routed",
                        timeout=wait_timeout,
                        only=new_pods,
                    )
        current = stage
    state.advance("wait", len(plans) - 1)
    reporter.phase("wait", "every deployment available, its pods routed on every node")
    probe = probe or _probe(workspace, target.name)
    with timer("wait"):
        wait_available(
            desired, probe, reporter, title="waiting for deployments", timeout=wait_timeout
        )
    outs = outputs(desired)
    state.commit(_dump(desired) or {}, outs)
    _record_cluster_plan(target, desired)
    result = UpResult(
        plan=desired,
        changes=prep.changes,
        outputs=outs,
        playbooks=results,
        timings=dict(timer.seconds),
        created_cluster=created,
        resumed_stage=resumed,
        stages=len(plans),
    )
    write_json_atomic(state.directory / LAST_UP, last_up_record(result))
    return result


def _ran(results: list[tuple[str, PlaybookResult]], book: str) -> bool:
    return any(name == book for name, _ in results)


def _run(workspace: Workspace, book: str, verbose: bool, reporter: Reporter) -> PlaybookResult:
    result = workspace.run(book, output=reporter.ansible_line if verbose else None)
    result.raise_for_failure(f"ansible-playbook {workspace.directory / book}")
    return result


def _record_cluster_plan(target: Target, desired: Plan) -> None:
    """The cluster's applied plan, where `podplay get/describe -c CLUSTER` find it."""
    write_json_atomic(applied_plan_path(target.name), _dump(desired))


def last_up_record(result: UpResult) -> dict[str, Any]:
    """Machine-readable summary of an apply (`.podplay/<stack>/last-up.json`)."""
    return {
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "changed": result.changed,
        "changes": [str(c) for c in result.changes],
        "created_cluster": result.created_cluster,
        "resumed_stage": result.resumed_stage,
        "stages": result.stages,
        "playbooks": [
            {
                "playbook": name,
                "changed": r.changed,
                "duration": r.duration,
                "hosts": {h: s.changed for h, s in sorted(r.hosts.items())},
                "changed_tasks": [f"{e.host}: {e.task}" for e in r.changed_tasks],
            }
            for name, r in result.playbooks
        ],
    }


def empty_plan(p: Plan) -> Plan:
    """The cluster with nothing on it: what `destroy --keep-cluster` converges to."""
    return p.model_copy(
        update={"deployments": [], "pods": [], "services": [], "images": [], "rollout": []}
    )


def destroy(
    program: str,
    target: Target,
    state: StackState,
    described: Plan,
    *,
    keep_cluster: bool,
    reporter: Reporter | None = None,
    verbose: bool = False,
    timeout: float = 120.0,
) -> DestroyResult:
    """Remove what the program made: the local cluster, or (kept / real hosts) pods, routing
    and DNS entries, then the agent and proxy. Forget the stack's state. Hold the lock.

    `described` names the cluster's nodes and how to reach them: the program's plan
    (`prepare`), or the stack's recorded plan when the program no longer evaluates
    (`podplay.control.from_state`)."""
    reporter = reporter or Reporter()
    out = DestroyResult()
    if target.local and not keep_cluster:
        if target.exists or substrate.get_cluster(target.name) is not None:
            reporter.phase("cluster", f"deleting local cluster {target.name}")
        out.cluster_deleted = substrate.delete_cluster(target.name)
        state.forget()
        return out
    if target.exists:
        nothing = empty_plan(described)
        workspace = Workspace(
            state.directory / "build",
            render_options(program, target, ensure_pause_image(), {}),
        )
        reporter.phase("converge", "removing pods, services and DNS entries")
        workspace.write(nothing)
        out.playbooks.append(("stage.yml", _run(workspace, "stage.yml", verbose, reporter)))
        _wait_no_pods(workspace, target, reporter, timeout)
        reporter.phase("converge", "stopping agent and proxy, removing PODPLAY chains")
        out.playbooks.append(("teardown.yml", _run(workspace, "teardown.yml", verbose, reporter)))
        out.pods_removed = True
        with contextlib.suppress(FileNotFoundError):
            applied_plan_path(target.name).unlink()
        ownership.release(target.name, state.directory)
    state.forget()
    return out


def _wait_no_pods(workspace: Workspace, target: Target, reporter: Reporter, timeout: float) -> None:
    access = access_from_inventory(workspace.inventory, target.name)
    deadline = time.monotonic() + timeout
    told = False
    while True:
        pods, problems = all_pods(access)
        if not pods:
            for problem in problems:
                reporter.warn(problem)
            return
        if not told:
            told = True
            reporter.info(
                f"waiting for {len(pods)} pod(s) to stop (a container that ignores SIGTERM "
                "is killed after its grace period, 30 s unless the Deployment says otherwise)"
            )
        if time.monotonic() >= deadline:
            names = ", ".join(sorted(p["name"] for p in pods)[:5])
            reporter.warn(f"pods still stopping after {timeout:.0f} s: {names}")
            return
        time.sleep(0.5)


def stack_state(program: str, stack_name: str) -> StackState:
    """The state store of `stack_name` for `program`."""
    return StackState(stack_dir(Path(program), stack_name))
