"""`podplay up`: a prepared program to a running, available app, as a list of named steps.

    prepared = prepare(program, stack, state, build=True)   # podplay.control.prepare
    result = apply(prepared, reporter)                       # the steps below

`apply` runs, in order (as kind's create runs its actions):

1. `resume_point`: what to converge to, from where. The journal records the plan being
   applied, the plan it starts from and the stage reached, so an interrupted (or failed)
   `up` is finished by the next one: the same stages, resumed; or, when the program changed
   meanwhile, a plan made against what the nodes may still run (`prepare` made it);
2. `ensure_images`, `ensure_cluster`: the images to side-load; a local cluster that does not
   exist yet is created (and the plan made again against its real nodes);
3. `begin`: the cluster is claimed for this stack, the journal written, the rollout's stages
   listed (one, unless a changed pod template replaces pods); nodes that are NotReady and do
   not answer over SSH are left out of every ansible-playbook run (`--limit`), and no wait
   asks them (the plan already placed their pods on Ready nodes);
4. `converge_stages`: one stage is `drain` (before pods that serve traffic are removed, every
   node's routing drops them: their endpoints leave `cluster.json`, then each node's proxy
   status is read until none routes to them), then `converge` (ansible-playbook). A rolling
   update is `converge_rollout`: ONE ansible-playbook run of `rollout.yml`
   (`podplay.render.rollout`), site.yml for the first stage, then one play with a block per
   stage whose drain and waits run on the nodes (a `Recreate` step's old pods gone from every agent
   before the next step starts new ones; pods a step created ready AND routed on every
   node before the next step removes old ones: max_unavailable 0 means what it says);
5. `wait_until_available`: every deployment available;
6. `commit`: the plan becomes the stack's state.

Every converge is a real ansible-playbook run over the rendered build directory
(`podplay.control.workspace`). The first runs only the parts of `site.yml` whose inputs
changed since they were last applied, on the nodes where they changed
(`converge_what_changed`: `podplay.render.parts` decides, `podplay.control.applied` keeps the
digests); a plan with no changes runs no playbook at all, and `--full` (`apply(full=True)`)
runs every part on every node, which puts drift on the nodes right. A rolling update is one
run of `rollout.yml` (the whole of `site.yml`, then a block per stage). Waiting from here is
`podplay.control.waiting`, on the nodes `podplay.node.rollout`; the plans between stages are
pure (`podplay.plan.rollout`).
"""

from __future__ import annotations

import re
from typing import Any

from podplay import substrate
from podplay.control import ownership
from podplay.control.applied import AppliedParts
from podplay.control.images import BuiltImages, build_images
from podplay.control.inspect import applied_plan_path
from podplay.control.outputs import outputs
from podplay.control.prepare import Prepared, dump_plan
from podplay.control.reporter import Reporter
from podplay.control.run import LAST_UP, WAIT_TIMEOUT, Run, Start, UpResult
from podplay.control.state import current_command
from podplay.control.target import Target, find_target
from podplay.control.waiting import wait_available, wait_drained
from podplay.control.workspace import (
    Workspace,
    ensure_certificates,
    reachable_hosts,
    unreachable,
)
from podplay.files import write_json_atomic
from podplay.node.contract.proxy_status import endpoint_pod
from podplay.plan import Plan, plan, stages
from podplay.plan.rollout import drained, removed_endpoints, same_plan
from podplay.render import ROLLOUT, rollout
from podplay.render.parts import APP_PARTS, PARTS, Scope, app_only, converge_scope

ROLLOUT_PLAY = re.compile(r"rollout step (\d+)/\d+")


def apply(
    prep: Prepared,
    reporter: Reporter | None = None,
    *,
    verbose: bool = False,
    wait_timeout: float = WAIT_TIMEOUT,
    full: bool = False,
) -> UpResult:
    """Create the cluster if needed, converge stage by stage, wait, commit. Hold the lock.
    `full`: the first converge runs every part of site.yml on every node (puts drift right)."""
    reporter = reporter or Reporter()
    start = resume_point(prep, reporter)
    images = ensure_images(prep, reporter)
    start, target = ensure_cluster(prep, start, images, reporter)
    run = begin(prep, start, target, images, reporter, verbose=verbose, wait_timeout=wait_timeout)
    run.full = full
    run.applied = AppliedParts.of(
        prep.state, run.workspace.options, target, created=start.created, moved=bool(prep.moves)
    )
    converge_stages(run)
    wait_until_available(run)
    return commit(run)


def resume_point(prep: Prepared, reporter: Reporter) -> Start:
    """The program's plan from the applied one; an interrupted apply of the same program,
    resumed at the stage it reached; or, when the program changed since, the new plan from
    what that apply may have left on the nodes (`prepare` planned against it)."""
    if prep.journal_plan is None:
        return Start(prep.plan, prep.applied)
    if not same_plan(prep.plan, prep.journal_plan):
        reporter.info("an earlier up was interrupted; converging to the program as it is now")
        return Start(prep.plan, prep.base)
    stage = prep.journal_stage
    reporter.info(f"resuming an interrupted up (phase {prep.journal_phase}, stage {stage + 1})")
    return Start(prep.journal_plan, prep.journal_previous, stage=stage, resumed=stage)


def ensure_images(prep: Prepared, reporter: Reporter) -> BuiltImages:
    """The images the nodes side-load: built by `prepare`, or now."""
    if prep.images is not None:
        return prep.images
    with prep.timer("images"):
        return build_images(prep.stack, reporter.info)


def ensure_cluster(
    prep: Prepared, start: Start, images: BuiltImages, reporter: Reporter
) -> tuple[Start, Target]:
    """A local cluster that does not exist yet is created (journaled first, so an interrupted
    create is finished by the next `up`) and the plan made again against its real nodes."""
    target = prep.target
    if not target.local or target.exists:
        return start, target
    cluster = prep.stack.cluster
    assert cluster is not None  # evaluate() refuses a program without one
    prep.state.begin(dump_plan(start.desired), current_command(), previous=None)
    reporter.phase("cluster", f"creating local cluster {target.name} ({target.node_count} nodes)")
    with prep.timer("cluster"):
        substrate.create_cluster(
            target.name,
            target.node_count,
            configure=False,
            log=reporter.info,
            pod_cidr=cluster.pod_cidr,
            service_cidr=cluster.service_cidr,
            control_plane=len(start.desired.control_plane()) or None,
        )
        target = find_target(prep.stack)
    with prep.timer("plan"):
        desired = plan(prep.stack, prep.base, target.facts, images.refs)
    return Start(desired, None, resumed=start.resumed, created=True), target


def begin(
    prep: Prepared,
    start: Start,
    target: Target,
    images: BuiltImages,
    reporter: Reporter,
    *,
    verbose: bool = False,
    wait_timeout: float = WAIT_TIMEOUT,
) -> Run:
    """Claim the cluster for this stack, journal the plan being applied, list the stages."""
    state = prep.state
    plans = stages(start.before, start.desired) if start.before is not None else [start.desired]
    if not 0 <= start.stage < len(plans):
        start = Start(start.desired, start.before, 0, start.resumed, start.created)
    ownership.claim(target.name, state.directory, prep.program)
    state.begin(
        dump_plan(start.desired),
        current_command(),
        previous=dump_plan(start.before),
        stage=start.stage,
    )
    ensure_certificates(target, start.desired)
    workspace = Workspace.for_target(
        state.directory / "build", prep.program, target, images.pause, dict(images.archives)
    )
    workspace.reporter = reporter
    run = Run(prep, start, target, workspace, plans, reporter, verbose, wait_timeout)
    run.skipped = unreachable(target.not_ready, start.desired.nodes, reporter)
    workspace.limit = reachable_hosts(start.desired.nodes, run.skipped)
    return run


def converge_stages(run: Run) -> None:
    """A rolling update (two stages or more left), or a change of the app part only, is one
    ansible-playbook run whose drains and waits run on the nodes (`converge_rollout`); any
    other single stage is drained from here (what it removes leaves every node's routing
    first), then converged."""
    if len(run.plans) - run.start.stage > 1 or app_scope(run) is not None:
        converge_rollout(run)
        return
    i = run.start.stage
    current = run.plans[i - 1] if i > 0 else run.start.before
    run.prep.state.advance("converge", i)
    if current is not None:
        drain(run, current, run.plans[i], run.label(i))
    converge(run, run.plans[i], run.label(i))


def converge_rollout(run: Run) -> None:
    """The rollout's stages from the one the apply starts at, in one run of `rollout.yml`
    (`podplay.render.rollout`): site.yml for the first, then one play with a block per stage
    whose drains and waits run on the nodes. The journal records the stage the run reached, so a
    failed run is resumed from there; the build directory then says the final plan."""
    first = run.start.stage
    current = run.plans[first - 1] if first > 0 else run.start.before
    scope = app_scope(run)
    text = rollout(
        current,
        run.plans[first:],
        first=first_playbook(run, scope),
        images=scope is not None and "images" in scope.tags,
        pods_on=[h for h, parts in scope.needed.items() if "pods" in parts] if scope else (),
        offset=first,
        total=len(run.plans),
        skipped=frozenset(run.skipped),
        timeout=run.wait_timeout,
    )
    run.prep.state.advance("converge", first)
    if run.applied is not None:  # the parts it may change: unknown until the run succeeds
        run.applied.forget(run.workspace.hosts(run.plans[first]), APP_PARTS if scope else PARTS)
    run.site_done = True
    steps = f"steps {first + 1}-{len(run.plans)} of {len(run.plans)}"
    if len(run.plans) == 1:
        steps = "the app part: " + ", ".join(scope.tags if scope else PARTS)
    run.reporter.phase("converge", f"ansible-playbook {ROLLOUT} ({steps}, waits on the nodes)")
    output = run.reporter.ansible_line if run.verbose else None
    try:
        with run.prep.timer("converge"):
            result = run.workspace.converge_rollout(run.plans[first], text, output=output)
    finally:  # interrupted too: the stage it reached is the one to resume from
        run.prep.state.advance("converge", stage_reached(run.workspace.plays_started(), first))
    run.results.append((ROLLOUT, result))
    result.raise_for_failure(f"ansible-playbook {run.workspace.directory / ROLLOUT}")
    run.prep.state.advance("converge", len(run.plans) - 1)
    run.workspace.write(run.desired)


def first_playbook(run: Run, scope: Scope | None) -> str | None:
    """The playbook that converges a rollout's first stage: site.yml, every role, unless
    only the app part changed (`scope`, see `app_scope`): then None, a stage block like the
    later ones (images, pods and routing; the rollout's one ansible-playbook run stays)."""
    return None if scope is not None and not run.full else "site.yml"


def app_scope(run: Run) -> Scope | None:
    """The scope of the run's first converge when it touches only the app part (images, pods,
    services: `podplay.render.parts.app_only`); None when more must run (or `--full`)."""
    if run.applied is None or run.full:
        return None
    first = run.start.stage
    stage = run.plans[first]
    before = run.plans[first - 1] if first > 0 else run.start.before
    scope = run.applied.scope(stage, run.workspace.hosts(stage))
    return scope if app_only(scope, before, stage) else None


def stage_reached(plays: list[str], first: int) -> int:
    """The stage (0-based) of the last rollout play that started (`rollout step K/N...`),
    `first` when none did: the nodes run that stage's pods or the one's before it."""
    reached = first
    for name in plays:
        found = ROLLOUT_PLAY.match(name)
        if found:
            reached = max(reached, int(found.group(1)) - 1)
    return reached


def drain(run: Run, current: Plan, nxt: Plan, label: str) -> None:
    """Pods that serve traffic and are not in `nxt` leave every node's routing first (those
    of a node Ansible cannot reach left it when their node stopped answering)."""
    lost = {(p.namespace, p.name) for p in current.pods if p.node in run.skipped}
    gone = [e for e in removed_endpoints(current, nxt) if _pod_of(e) not in lost]
    if not gone:
        return
    run.reporter.phase("converge", f"draining {len(gone)} endpoint(s) {label}".strip())
    with run.prep.timer("converge"):
        run.converge(drained(current, nxt), "stage.yml")
    probe = run.probe()
    with run.prep.timer("wait"):
        wait_drained(nxt, gone, probe, run.reporter)


def _pod_of(endpoint: str) -> tuple[str, str]:
    """(namespace, pod) of an endpoint key `namespace/pod@ip`."""
    return endpoint_pod(endpoint)


def converge(run: Run, stage: Plan, label: str) -> None:
    """The nodes to `stage`: on the run's first converge the parts of site.yml whose inputs
    changed, only pods and routing (`stage.yml`) on the rollout steps after it."""
    if not run.site_done:
        converge_what_changed(run, stage, label)
        run.site_done = True
        return
    run.reporter.phase("converge", f"ansible-playbook stage.yml {label}".strip())
    with run.prep.timer("converge"):
        run.converge(stage, "stage.yml")


def converge_what_changed(run: Run, stage: Plan, label: str) -> None:
    """site.yml, only the parts (`--tags`) whose inputs changed, on the nodes where they
    changed (`--limit`); every part with `--full`; no run at all when nothing changed."""
    hosts = run.workspace.hosts(stage)
    if run.applied is None:  # nothing known: everything
        scope = converge_scope({}, {}, hosts, full=True)
    else:
        scope = run.applied.scope(stage, hosts, full=run.full)
    if scope.empty:
        run.workspace.write(stage)  # the build directory still shows the plan
        run.reporter.phase("converge", "every node runs what it was last given: no playbook run")
        return
    tags = () if scope.everything else scope.tags
    limit = list(scope.hosts) if len(scope.hosts) < len(hosts) else None
    command = "ansible-playbook site.yml" + (f" --tags {','.join(tags)}" if tags else "")
    command += f" --limit {','.join(limit)}" if limit else ""
    run.reporter.phase("converge", f"{command} {label}".strip())
    with run.prep.timer("converge"):
        run.converge(stage, "site.yml", tags=tags, hosts=limit)
    if run.applied is not None:
        run.applied.record(stage, scope.hosts, scope.tags)


def wait_until_available(run: Run) -> None:
    """Every deployment of the plan available, its pods routed on every node."""
    run.prep.state.advance("wait", len(run.plans) - 1)
    run.reporter.phase("wait", "every deployment available, its pods routed on every node")
    probe = run.probe()
    with run.prep.timer("wait"):
        wait_available(
            run.desired,
            probe,
            run.reporter,
            title="waiting for deployments",
            timeout=run.wait_timeout,
        )


def commit(run: Run) -> UpResult:
    """The plan becomes the stack's applied plan (and the cluster's, for `get`/`describe`);
    `last-up.json` says what this apply did."""
    state, desired = run.prep.state, run.desired
    if run.applied is not None:  # every stage converged: the reachable nodes run `desired`
        run.applied.record(desired, run.workspace.hosts(desired))
    outs = outputs(desired)
    state.commit(dump_plan(desired) or {}, outs)
    record_cluster_plan(run.target, desired)
    result = UpResult(
        plan=desired,
        changes=run.prep.changes,
        outputs=outs,
        playbooks=run.results,
        timings=dict(run.prep.timer.seconds),
        created_cluster=run.start.created,
        resumed_stage=run.start.resumed,
        stages=len(run.plans),
    )
    write_json_atomic(state.directory / LAST_UP, last_up_record(result))
    return result


def record_cluster_plan(target: Target, desired: Plan) -> None:
    """The cluster's applied plan, where `podplay get/describe -c CLUSTER` find it."""
    write_json_atomic(applied_plan_path(target.name), dump_plan(desired))


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
                "roles": r.roles_ran,
                "tasks": r.tasks_ran(),
                "changed": r.changed,
                "duration": r.duration,
                "hosts": {h: s.changed for h, s in sorted(r.hosts.items())},
                "changed_tasks": [f"{e.host}: {e.task}" for e in r.changed_tasks],
            }
            for name, r in result.playbooks
        ],
    }
