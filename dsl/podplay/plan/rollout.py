"""The order in which a changed template replaces pods (planned, never improvised).

Kubernetes' rolling update as arithmetic: never more than `replicas + max_surge` pods that
are not terminating, never fewer than `replicas - max_unavailable` available. Each `create`
step is followed by waiting until its pods are ready; each `delete` step removes old pods. A
`Recreate` deployment has two steps: delete every old pod, then create every new one;
`must_stop` names the pods whose containers must have stopped before the next step starts
(two versions never run at once). `stages` turns the steps into the sequence of pod sets to
converge to, ending at the plan, with Kubernetes' overlap (`stage_steps`): a rolling delete
and the create after it are one stage, its old pods leave routing there while the new ones
start, and are unbound a stage later (terminating pods do not count toward max_surge).

The plans `up` converges to between those stages are pure functions of two plans too:
`drained` (routing already as the next stage has it, so pods about to go are nobody's
endpoint), `in_flight` (what the nodes may run after an apply stopped half way) and
`empty_plan` (what `destroy --keep-cluster` converges to); `stage_words` says a stage in
words (the rollout playbook's play names, `preview`'s rolling-update notes).
"""

from __future__ import annotations

from collections.abc import Collection

from podplay.node.contract.proxy_status import endpoint_key, endpoint_pod
from podplay.plan.model import Plan, PodPlan, RolloutStep, ServicePlan, Strategy
from podplay.plan.services import endpoints_for

PodKey = tuple[str, str]  # (namespace, pod name)


def rollout_steps(
    namespace: str,
    deployment: str,
    replicas: int,
    strategy: Strategy,
    kept: list[PodPlan],
    created: list[PodPlan],
    old: list[PodPlan],
) -> list[RolloutStep]:
    """Steps replacing `old` pods by `created` ones; none when nothing old is replaced."""
    if not old:
        return []
    if strategy.type == "Recreate":
        steps = [
            RolloutStep(
                namespace=namespace,
                deployment=deployment,
                action="delete",
                pods=[p.name for p in old],
            )
        ]
        if created:
            steps.append(
                RolloutStep(
                    namespace=namespace,
                    deployment=deployment,
                    action="create",
                    pods=[p.name for p in created],
                )
            )
        return steps
    surge, unavailable = strategy.max_surge or 0, strategy.max_unavailable or 0
    waiting = [p.name for p in created]
    remaining = [p.name for p in old]
    new_up = len(kept)
    steps: list[RolloutStep] = []

    def step(action: str, pods: list[str]) -> None:
        steps.append(
            RolloutStep(namespace=namespace, deployment=deployment, action=action, pods=pods)
        )

    while waiting or remaining:
        add = min(max(0, replicas + surge - len(remaining) - new_up), len(waiting))
        if add:
            step("create", waiting[:add])
            waiting, new_up = waiting[add:], new_up + add
        drop = min(max(0, len(remaining) + new_up - (replicas - unavailable)), len(remaining))
        if drop:
            step("delete", remaining[:drop])
            remaining = remaining[drop:]
        if not add and not drop:  # cannot happen with surge or unavailable > 0; never loop
            if waiting:
                step("create", waiting)
            if remaining:
                step("delete", remaining)
            break
    return steps


def stage_steps(plan: Plan) -> list[list[int]]:
    """The rollout steps (indices into `plan.rollout`) each stage after the first applies.

    Kubernetes' RollingUpdate overlap: a rolling `delete` step and the `create` step after
    it are one stage (the old pods leave routing while the next new ones start: terminating
    pods do not count toward max_surge); the pods it drains stay bound until the stage
    after it, which unbinds them (an extra stage with no step when it is the last). A
    rolling delete with no create after it (the last old pods) is a stage of its own that
    removes them, as a `Recreate` step is: the rollout playbook drains them first, on each
    node at the end of its call of the stage before (once that node routes the new pods)."""
    rolling = _rolling(plan)

    def drains(i: int) -> bool:
        s = plan.rollout[i]
        return s.action == "delete" and (s.namespace, s.deployment) in rolling

    groups: list[list[int]] = []
    for i, s in enumerate(plan.rollout):
        rolling_create = s.action == "create" and (s.namespace, s.deployment) in rolling
        if rolling_create and groups and len(groups[-1]) == 1 and drains(groups[-1][0]):
            groups[-1].append(i)
        else:
            groups.append([i])
    if groups and len(groups[-1]) == 2:
        groups.append([])  # the last drained pods unbound
    return groups


def stages(previous: Plan | None, plan: Plan) -> list[Plan]:
    """The plans to converge to in order: the rollout's intermediate states, then `plan`.

    The first stage already has every change that is not a replacement (new deployments,
    scaling, services); each later stage applies its steps (`stage_steps`). A stage's pods
    are the ones bound to nodes; pods a rolling delete drains there are among them but no
    service's endpoint (they leave routing while the stage's new pods start)."""
    if not plan.rollout or previous is None:
        return [plan]
    old = {p.name: p for p in previous.pods}
    new = {p.name: p for p in plan.pods}
    created = {name for s in plan.rollout if s.action == "create" for name in s.pods}
    deleted = [name for s in plan.rollout if s.action == "delete" for name in s.pods]
    current = {n: p for n, p in new.items() if n not in created}
    current.update({n: old[n] for n in deleted if n in old})
    out = [_with_pods(plan, current)]
    draining: set[str] = set()
    for group in stage_steps(plan):
        for name in draining:  # drained everywhere in the stage before
            current.pop(name, None)
        draining = set()
        for s in (plan.rollout[i] for i in group):
            for name in s.pods:
                if s.action == "create":
                    current[name] = new[name]
                elif len(group) == 2:
                    draining.add(name)  # bound until the next stage, out of routing now
                else:
                    current.pop(name, None)
        out.append(_with_pods(plan, current, draining))
    out[-1] = plan
    return out


def _rolling(plan: Plan) -> set[tuple[str, str]]:
    """(namespace, name) of the plan's RollingUpdate deployments."""
    return {(d.namespace, d.name) for d in plan.deployments if d.strategy.type != "Recreate"}


def _with_pods(plan: Plan, pods: dict[str, PodPlan], draining: Collection[str] = ()) -> Plan:
    """`plan` with these pods bound; those `draining` are no service's endpoint."""
    ordered = sorted(pods.values(), key=lambda p: (p.namespace, p.deployment, p.serial, p.name))
    routed = [p for p in ordered if p.name not in draining]
    services: list[ServicePlan] = [
        s.model_copy(update={"endpoints": endpoints_for(s, routed)}) for s in plan.services
    ]
    return plan.model_copy(update={"pods": ordered, "services": services, "rollout": []})


def same_plan(a: Plan, b: Plan) -> bool:
    """Equal but for the rollout (which only says how `a` was reached)."""
    strip = {"rollout": [], "pending": []}
    return a.model_copy(update=strip) == b.model_copy(update=strip)


def in_flight(previous: Plan | None, target: Plan, stage: int) -> Plan:
    """What the nodes may run after an apply from `previous` to `target` stopped at rollout
    `stage`: that stage's pods and those of the stage before it (it may be half applied;
    pods a rolling stage drains are bound in both), each routed if either stage routes it
    (a node may not have its cluster.json yet: a later drain must wait for it).

    A failed or interrupted rollout leaves old pods serving next to new ones that may never
    become ready; a changed program must replace all of them, one at a time."""
    plans = stages(previous, target) if previous is not None else [target]
    stage = min(max(stage, 0), len(plans) - 1)
    here = plans[stage]
    before = plans[stage - 1] if stage > 0 else previous
    if before is None:
        return here.model_copy(update={"rollout": []})
    names = {(p.namespace, p.name) for p in here.pods}
    extra = [p for p in before.pods if (p.namespace, p.name) not in names]
    pods = sorted([*here.pods, *extra], key=lambda p: (p.namespace, p.deployment, p.serial))
    serving = routed_pods(here) | routed_pods(before)
    routed = [p for p in pods if (p.namespace, p.name) in serving]
    services = [s.model_copy(update={"endpoints": endpoints_for(s, routed)}) for s in here.services]
    return here.model_copy(update={"pods": pods, "services": services, "rollout": []})


def routed_pods(plan: Plan) -> set[PodKey]:
    """Pods that some service of the plan sends traffic to."""
    return {(e.namespace, e.pod) for s in plan.services for e in s.endpoints}


def removed_endpoints(current: Plan, nxt: Plan) -> list[str]:
    """Endpoints (`ns/pod@ip`) of pods that serve traffic now and are not in `nxt`."""
    keep = {(p.namespace, p.name) for p in nxt.pods}
    serving = routed_pods(current)
    return sorted(
        endpoint_key(p.namespace, p.name, p.ip)
        for p in current.pods
        if (p.namespace, p.name) in serving and (p.namespace, p.name) not in keep
    )


def leaving_endpoints(current: Plan, nxt: Plan) -> list[str]:
    """Endpoints (`ns/pod@ip`) of pods that serve traffic now and that `nxt` still runs but
    routes to no more (a rolling update's old pods, drained while the next new ones start)."""
    serving, still = routed_pods(current), routed_pods(nxt)
    keep = {(p.namespace, p.name) for p in nxt.pods}
    return sorted(
        endpoint_key(p.namespace, p.name, p.ip)
        for p in current.pods
        if (p.namespace, p.name) in serving - still and (p.namespace, p.name) in keep
    )


def stage_words(
    current: Plan, nxt: Plan, deployment: tuple[str, str] | None = None, short: bool = False
) -> str:
    """What `nxt` does after `current`, in words ('' for nothing): `stop default/web-a1
    (drained); drain default/web-a2 while starting default/web-b3` (drained: it left routing
    a stage before), `drain and stop default/web-a3` (drained first, then unbound). Only
    `deployment`'s pods when given; `short`: pod names alone. The rollout playbook's play
    names and `preview`'s rolling-update notes say it the same."""

    def mine(plan: Plan) -> set[PodKey]:
        return {
            (p.namespace, p.name)
            for p in plan.pods
            if deployment is None or (p.namespace, p.deployment) == deployment
        }

    def names(keys: Collection[PodKey]) -> str:
        return ", ".join(name if short else f"{ns}/{name}" for ns, name in sorted(keys))

    before, after = mine(current), mine(nxt)
    stopped, started = before - after, after - before
    leaving = {endpoint_pod(e) for e in leaving_endpoints(current, nxt)} & before
    parts = []
    quiet = stopped - routed_pods(current)
    if quiet:
        parts.append(f"stop {names(quiet)} (drained)")
    if stopped - quiet:
        parts.append(f"drain and stop {names(stopped - quiet)}")
    if leaving:
        meanwhile = f" while starting {names(started)}" if started else ""
        parts.append(f"drain {names(leaving)}{meanwhile}")
    elif started:
        parts.append(f"start {names(started)}")
    return "; ".join(parts)


def drained(current: Plan, nxt: Plan) -> Plan:
    """`current`'s pods, with routing already as `nxt` will have it for them: the pods that
    are about to go are no service's endpoint any more."""
    keep = {(p.namespace, p.name) for p in nxt.pods}
    services = [
        s.model_copy(update={"endpoints": [e for e in s.endpoints if (e.namespace, e.pod) in keep]})
        for s in current.services
    ]
    return current.model_copy(update={"services": services, "rollout": []})


def must_stop(current: Plan, nxt: Plan) -> set[PodKey]:
    """Pods of `Recreate` deployments that `current` runs and `nxt` does not: their containers
    must have stopped before the step after `nxt` starts new pods."""
    recreate = {(d.namespace, d.name) for d in nxt.deployments if d.strategy.type == "Recreate"}
    keep = {(p.namespace, p.name) for p in nxt.pods}
    return {
        (p.namespace, p.name)
        for p in current.pods
        if (p.namespace, p.deployment) in recreate and (p.namespace, p.name) not in keep
    }


def new_pods(current: Plan | None, nxt: Plan) -> set[PodKey]:
    """Pods `nxt` runs that `current` does not (a rollout step waits for them to serve)."""
    before = {(p.namespace, p.name) for p in current.pods} if current else set()
    return {(p.namespace, p.name) for p in nxt.pods} - before


def empty_plan(p: Plan) -> Plan:
    """The cluster with nothing on it: what `destroy --keep-cluster` converges to."""
    return p.model_copy(
        update={"deployments": [], "pods": [], "services": [], "images": [], "rollout": []}
    )
