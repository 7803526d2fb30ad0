"""A Pulumi-style per-resource diff between two plans (what `podplay preview` shows).

`+` create, `~` update (naming the changed fields), `-` delete, `+-` replace (a pod replaced
by a new one because its template changed, naming the fields that force it). Endpoints are
left out: they follow from pods and readiness, not from the program. A deployment whose pods
are replaced says how on its line (`rollout`): a rolling update its steps as `up` runs them
(an old pod drained while the next new one starts, stopped a step later); `Recreate` how
many pods stop, then start, and which services have no ready endpoint meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Literal

from podplay.plan.model import Plan
from podplay.plan.rollout import stage_words, stages

Op = Literal["+", "~", "-", "+-"]
PodKey = tuple[str, str]  # (namespace, pod name)


@dataclass(frozen=True)
class Change:
    """One resource's change."""

    op: Op
    kind: str
    name: str
    namespace: str | None = None
    fields: list[str] = field(default_factory=list)
    replaces: str | None = None
    rollout: str | None = None  # how the pods are replaced, when it is not one at a time

    def __str__(self) -> str:
        who = f"{self.namespace}/{self.name}" if self.namespace else self.name
        text = f"{self.op:<2} {self.kind} {who}"
        if self.replaces:
            text += f" (replaces {self.replaces})"
        details = ([self.rollout] if self.rollout else []) + self.fields
        if details:
            text += ": " + ", ".join(details)
        return text


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Paths of the leaves that differ: `containers[0].image`, `env.MODE`."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                out.append(path)
            else:
                out += changed_paths(old[key], new[key], path)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += changed_paths(a, b, f"{prefix}[{i}]")
        return out
    return [] if old == new else [prefix or "(value)"]


def _keyed(items: list[Any], namespaced: bool) -> dict[tuple[str | None, str], Any]:
    return {(getattr(i, "namespace", None) if namespaced else None, i.name): i for i in items}


def _simple(
    kind: str, old: list[Any], new: list[Any], namespaced: bool, skip: set[str]
) -> list[Change]:
    before, after = _keyed(old, namespaced), _keyed(new, namespaced)
    out = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[0] or "", k[1])):
        ns, name = key
        if key not in before:
            out.append(Change("+", kind, name, ns))
        elif key not in after:
            out.append(Change("-", kind, name, ns))
        else:
            a = before[key].model_dump(exclude=skip)
            b = after[key].model_dump(exclude=skip)
            paths = changed_paths(a, b)
            if paths:
                out.append(Change("~", kind, name, ns, paths))
    return out


def diff(previous: Plan | None, plan: Plan) -> list[Change]:
    """Every resource change from `previous` (None: nothing exists) to `plan`."""
    if previous is None:
        previous = plan.model_copy(
            update={"nodes": [], "images": [], "deployments": [], "pods": [], "services": []}
        )
    changes = _simple(
        "Node", previous.nodes, plan.nodes, False, {"connection", "name", "last_pod_ip"}
    )
    changes += _simple("Image", previous.images, plan.images, False, {"name"})
    deployments = _simple(
        "Deployment",
        previous.deployments,
        plan.deployments,
        True,
        {"pods", "next_serial", "template_hash", "name", "namespace"},
    )
    changes += _with_recreates(deployments, previous, plan)
    changes += _simple(
        "Service", previous.services, plan.services, True, {"endpoints", "name", "namespace"}
    )
    changes += _pods(previous, plan)
    return changes


def _with_recreates(changes: list[Change], previous: Plan, plan: Plan) -> list[Change]:
    """Deployment changes, each rollout said in words on its deployment's line."""
    notes = {**rolling_notes(previous, plan), **recreate_notes(previous, plan)}
    if not notes:
        return changes
    out = []
    for c in changes:
        note = notes.pop((c.namespace or "", c.name), None) if c.kind == "Deployment" else None
        out.append(replace(c, rollout=note) if note else c)
    for (namespace, name), note in notes.items():  # template unchanged: an unfinished rollout
        out.append(Change("~", "Deployment", name, namespace, rollout=note))
    return sorted(out, key=lambda c: (c.namespace or "", c.name))


SHOWN_STEPS = 6  # a longer rolling update shows its first and last steps


def rolling_notes(previous: Plan, plan: Plan) -> dict[tuple[str, str], str]:
    """`rolling update (5 steps: start web-b1 | drain web-a1 while starting web-b2 | stop
    web-a1 (drained); drain web-a2 while starting web-b3 | ...)` for every RollingUpdate
    deployment of `plan` that replaces pods: each step as the rollout playbook runs it (an
    old pod leaves routing while the next new one starts, and stops a step later)."""
    rolling = {(d.namespace, d.name) for d in plan.deployments if d.strategy.type != "Recreate"}
    keys = {(s.namespace, s.deployment) for s in plan.rollout} & rolling
    if not keys:
        return {}
    plans = stages(previous, plan)
    notes = {}
    for key in sorted(keys):
        said = [w for w in (stage_words(a, b, key, short=True) for a, b in pairwise(plans)) if w]
        count = len(said)
        if count > SHOWN_STEPS:
            head, tail = SHOWN_STEPS // 2, SHOWN_STEPS // 2 - 1
            said = [*said[:head], f"... {count - head - tail} more ...", *said[count - tail :]]
        notes[key] = f"rolling update ({count} steps: " + " | ".join(said) + ")"
    return notes


def recreate_notes(previous: Plan, plan: Plan) -> dict[tuple[str, str], str]:
    """`recreate (3 pods stop, then 3 start; service default/web has no ready endpoint
    meanwhile)` for every deployment of `plan` whose rollout recreates its pods."""
    recreate = {(d.namespace, d.name) for d in plan.deployments if d.strategy.type == "Recreate"}
    steps = [(i, s) for i, s in enumerate(plan.rollout) if (s.namespace, s.deployment) in recreate]
    if not steps:
        return {}
    plans = stages(previous, plan)
    notes = {}
    for i, step in steps:
        if step.action != "delete":
            continue
        key = (step.namespace, step.deployment)
        started = sum(
            len(s.pods)
            for _, s in steps
            if (s.namespace, s.deployment, s.action) == (*key, "create")
        )
        before, after = plans[i], plans[i + 1]  # stage i + 1: the plan after step i
        dark = [
            f"{s.namespace}/{s.name}"
            for s, was in zip(after.services, before.services, strict=True)
            if was.endpoints and not s.endpoints
        ]
        text = "recreate (" + _count(len(step.pods), "pod stops", "pods stop")
        if started:
            text += ", then " + _count(started, "starts", "start")
        if dark:
            names = ", ".join(dark)
            text += f"; service {names} has" if len(dark) == 1 else f"; services {names} have"
            text += " no ready endpoint meanwhile"
        notes[key] = text + ")"
    return notes


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _pods(previous: Plan, plan: Plan) -> list[Change]:
    before = {(p.namespace, p.name): p for p in previous.pods}
    after = {(p.namespace, p.name): p for p in plan.pods}
    templates = {(d.namespace, d.name): d.template for d in previous.deployments}
    replaced: dict[str, str] = {}
    by_deployment: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for step in plan.rollout:
        created, deleted = by_deployment.setdefault((step.namespace, step.deployment), ([], []))
        (created if step.action == "create" else deleted).extend(step.pods)
    for created, deleted in by_deployment.values():
        replaced.update(zip(created, deleted, strict=False))
    new_templates = {(d.namespace, d.name): d.template for d in plan.deployments}
    stranded = _stranded(previous, plan, set(replaced))
    out = []
    for key in sorted(set(before) | set(after)):
        ns, name = key
        if key in after and key not in before:
            pod = after[key]
            old_name = replaced.get(name)
            if old_name:
                paths = changed_paths(
                    templates.get((ns, pod.deployment), {}), new_templates[(ns, pod.deployment)]
                )
                out.append(Change("+-", "Pod", name, ns, paths, replaces=old_name))
            else:
                out.append(Change("+", "Pod", name, ns, [f"node {pod.node}", f"ip {pod.ip}"]))
        elif key in before and key not in after:
            if name not in replaced.values():
                out.append(Change("-", "Pod", name, ns, stranded.get(key, [])))
        else:
            paths = changed_paths(before[key].manifest, after[key].manifest)
            if paths:
                out.append(Change("~", "Pod", name, ns, paths))
    return out


def _stranded(previous: Plan, plan: Plan, replacements: set[str]) -> dict[PodKey, list[str]]:
    """Pods removed because their node is NotReady in `plan`, each with where its deployment's
    next new pod goes instead (`node node2 NotReady, re-created as web-x on node3`)."""
    unready = {n.name for n in plan.nodes if not n.ready}
    if not unready:
        return {}
    kept = {(p.namespace, p.name) for p in plan.pods}
    known = {(p.namespace, p.name) for p in previous.pods}
    created: dict[tuple[str, str], list[Any]] = {}
    for p in sorted(plan.pods, key=lambda p: p.serial):
        if (p.namespace, p.name) not in known and p.name not in replacements:
            created.setdefault((p.namespace, p.deployment), []).append(p)
    out: dict[PodKey, list[str]] = {}
    for p in sorted(previous.pods, key=lambda p: p.serial):
        if p.node not in unready or (p.namespace, p.name) in kept:
            continue
        fields = [f"node {p.node} NotReady"]
        instead = created.get((p.namespace, p.deployment)) or []
        if instead:
            new = instead.pop(0)
            fields.append(f"re-created as {new.name} on {new.node}")
        out[(p.namespace, p.name)] = fields
    return out


def summary(changes: list[Change]) -> str:
    """`2 to create, 1 to update, 0 to delete, 3 to replace` (or `no changes`)."""
    if not changes:
        return "no changes"
    counts = {op: sum(1 for c in changes if c.op == op) for op in ("+", "~", "-", "+-")}
    return (
        f"{counts['+']} to create, {counts['~']} to update, {counts['-']} to delete, "
        f"{counts['+-']} to replace"
    )
