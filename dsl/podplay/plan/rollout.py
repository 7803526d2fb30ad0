"""The order in which a changed template replaces pods (planned, never improvised).

Kubernetes' rolling update as arithmetic: never more than `replicas + max_surge` pods, never
fewer than `replicas - max_unavailable` available. Each `create` step is followed by waiting
until its pods are ready; each `delete` step removes old pods. `stages` turns the steps into
the sequence of pod sets to converge to, one per step, ending at the plan.
"""

from __future__ import annotations

from podplay.plan.model import Plan, PodPlan, RolloutStep, ServicePlan, Strategy
from podplay.plan.services import endpoints_for


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
    surge, unavailable = strategy.max_surge, strategy.max_unavailable
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


def stages(previous: Plan | None, plan: Plan) -> list[Plan]:
    """The plans to converge to in order: the rollout's intermediate states, then `plan`.

    The first stage already has every change that is not a replacement (new deployments,
    scaling, services); each later stage applies one rollout step.
    """
    if not plan.rollout or previous is None:
        return [plan]
    old = {p.name: p for p in previous.pods}
    new = {p.name: p for p in plan.pods}
    created = {name for s in plan.rollout if s.action == "create" for name in s.pods}
    deleted = [name for s in plan.rollout if s.action == "delete" for name in s.pods]
    current = {n: p for n, p in new.items() if n not in created}
    current.update({n: old[n] for n in deleted if n in old})
    out = [_with_pods(plan, current)]
    for s in plan.rollout:
        for name in s.pods:
            if s.action == "create":
                current[name] = new[name]
            else:
                current.pop(name, None)
        out.append(_with_pods(plan, current))
    out[-1] = plan
    return out


def _with_pods(plan: Plan, pods: dict[str, PodPlan]) -> Plan:
    ordered = sorted(pods.values(), key=lambda p: (p.namespace, p.deployment, p.serial, p.name))
    services: list[ServicePlan] = [
        s.model_copy(update={"endpoints": endpoints_for(s, ordered)}) for s in plan.services
    ]
    return plan.model_copy(update={"pods": ordered, "services": services, "rollout": []})
