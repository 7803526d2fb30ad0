"""`apps/v1 Deployment` → a draft of a pp.Deployment: replicas, selector, strategy, template.

As the API server does, the selector must select the template's labels, and a rolling
update's percentages become numbers against the replicas (maxSurge rounded up,
maxUnavailable down, 25% each by default); `type: Recreate` is pp.Recreate().
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from podplay.dsl.diagnostics import show
from podplay.dsl.kubernetes.containers import ContainerDraft, read_container
from podplay.dsl.kubernetes.reader import Fields, Subject, labels, sequence
from podplay.dsl.kubernetes.yamlfile import Located
from podplay.dsl.workload import Recreate, RollingUpdate

SPEC = ("replicas", "selector", "template", "strategy")
# harmless: podplay keeps no old ReplicaSets and reports a stuck rollout by its own timeout
SPEC_IGNORED = ("revisionHistoryLimit", "progressDeadlineSeconds")
SPEC_DEFAULTS = {"minReadySeconds": 0, "paused": False}
POD_SPEC = ("containers", "nodeSelector", "terminationGracePeriodSeconds")
# what podplay does anyway (`kubectl get -o yaml` prints these defaults)
POD_DEFAULTS = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "securityContext": {},
}
TEMPLATE_META_IGNORED = ("annotations", "creationTimestamp")
_PERCENT = re.compile(r"([0-9]+)%")


@dataclass
class DeploymentDraft:
    """A Deployment as read; its containers' images are resolved when it is declared."""

    subject: Subject
    namespace: str
    kwargs: dict[str, Any]  # pp.Deployment arguments besides containers
    containers: list[ContainerDraft]
    port_names: dict[str, int] = field(default_factory=dict)  # the pod's named ports

    @property
    def labels(self) -> dict[str, str]:
        """The pod template's labels (what services select)."""
        return self.kwargs["labels"]


def read_deployment(subject: Subject, spec_node: Located, namespace: str) -> DeploymentDraft:
    """The `spec` of a Deployment named by `subject`."""
    spec = Fields(subject, spec_node, "spec", SPEC, SPEC_IGNORED, SPEC_DEFAULTS)
    replicas = spec.integer("replicas", 1, minimum=0)
    selector = _selector(subject, spec)
    template = Fields(
        subject, spec.required("template"), spec.path("template"), ("metadata", "spec")
    )
    meta = Fields(
        subject,
        template.required("metadata", " (its labels are the pods' labels)"),
        template.path("metadata"),
        ("labels",),
        TEMPLATE_META_IGNORED,
    )
    labels_node = meta.required("labels", " (services select pods by them)")
    pod_labels = labels(subject, labels_node, meta.path("labels"))
    missing = {k: v for k, v in selector[0].items() if pod_labels.get(k) != v}
    if missing or not pod_labels:
        subject.fail(
            selector[1],
            spec.path("selector") + ".matchLabels",
            f"{show(selector[0])} does not select {meta.path('labels')} {show(pod_labels)} "
            "(the API server requires the selector to match the template's labels)",
        )
    pod = Fields(
        subject, template.required("spec"), template.path("spec"), POD_SPEC, (), POD_DEFAULTS
    )
    kwargs: dict[str, Any] = {
        "namespace": namespace,
        "replicas": replicas,
        "labels": pod_labels,
        "strategy": _strategy(subject, spec, replicas),
    }
    node_selector = pod.get("nodeSelector")
    if node_selector is not None:
        kwargs["node_selector"] = labels(subject, node_selector, pod.path("nodeSelector"))
    grace = pod.integer("terminationGracePeriodSeconds", minimum=0)
    if grace is not None:
        kwargs["termination_grace_period"] = grace
    draft = DeploymentDraft(subject, namespace, kwargs, _containers(subject, pod))
    _check_pod_ports(subject, pod, draft)
    return draft


def _selector(subject: Subject, spec: Fields) -> tuple[dict[str, str], Located]:
    node = spec.required("selector", " (apps/v1 Deployments select their pods by labels)")
    selector = Fields(subject, node, spec.path("selector"), ("matchLabels",))
    match = selector.required("matchLabels")
    found = labels(subject, match, selector.path("matchLabels"))
    if not found:
        subject.fail(match, selector.path("matchLabels"), "must not be empty")
    return found, match


def _containers(subject: Subject, pod: Fields) -> list[ContainerDraft]:
    node = pod.required("containers")
    items = sequence(subject, node, pod.path("containers"))
    if not items:
        subject.fail(node, pod.path("containers"), "must list at least one container")
    drafts: list[ContainerDraft] = []
    for i, item in enumerate(items):
        draft = read_container(subject, item, f"{pod.path('containers')}[{i}]")
        for j, other in enumerate(drafts):
            if other.name == draft.name:
                subject.fail(
                    item,
                    f"{pod.path('containers')}[{i}].name",
                    f'"{draft.name}" is already used by containers[{j}]',
                )
        drafts.append(draft)
    return drafts


def _check_pod_ports(subject: Subject, pod: Fields, draft: DeploymentDraft) -> None:
    """Containers of a pod share its network: a port (and a port name) belongs to one."""
    owners: dict[int, int] = {}
    for i, container in enumerate(draft.containers):
        for port in container.ports:
            if owners.get(port.number, i) != i:
                subject.fail(
                    port.node,
                    f"{port.path}.containerPort",
                    f"{port.number} is already declared by containers[{owners[port.number]}] "
                    "(containers of a pod share its network)",
                )
            owners[port.number] = i
            if port.name is None:
                continue
            if port.name in draft.port_names:
                subject.fail(
                    port.node, f"{port.path}.name", f'"{port.name}" is already used in this pod'
                )
            draft.port_names[port.name] = port.number
    declared = ", ".join(str(p) for p in sorted(owners)) or "none"
    for container in draft.containers:
        for number, node, path in container.probe_ports:
            if number not in owners:
                subject.fail(
                    node,
                    path,
                    f"{number} is not a port any container of the pod declares (declared: "
                    f"{declared}); podplay probes declared ports: list it under ports",
                )


def _strategy(subject: Subject, spec: Fields, replicas: int) -> RollingUpdate | Recreate:
    surge_node = unavailable_node = None
    node = spec.get("strategy")
    if node is not None:
        strategy = Fields(subject, node, spec.path("strategy"), ("type", "rollingUpdate"))
        kind = strategy.choice(
            "type", "RollingUpdate", ("RollingUpdate", "Recreate"),
            'must be "RollingUpdate" or "Recreate"',
        )  # fmt: skip
        rolling = strategy.get("rollingUpdate")
        if kind == "Recreate":
            if rolling is not None:  # the API server forbids it too
                subject.fail(
                    rolling,
                    strategy.path("rollingUpdate"),
                    'may not be given when type is "Recreate" (Recreate has no limits: every '
                    "old pod stops before any new one starts)",
                )
            return Recreate()
        if rolling is not None:
            limits = Fields(
                subject, rolling, strategy.path("rollingUpdate"), ("maxSurge", "maxUnavailable")
            )
            surge_node, unavailable_node = limits.get("maxSurge"), limits.get("maxUnavailable")
    path = spec.path("strategy") + ".rollingUpdate"
    surge, surge_raw = _amount(subject, surge_node, f"{path}.maxSurge", replicas, up=True)
    unavailable, unavailable_raw = _amount(
        subject, unavailable_node, f"{path}.maxUnavailable", replicas, up=False
    )
    if surge_raw == 0 and unavailable_raw == 0:
        subject.fail(
            unavailable_node,
            f"{path}.maxUnavailable",
            "may not be 0 when maxSurge is 0 (no rollout could start)",
        )
    if surge == 0 and unavailable == 0:  # percentages of few replicas: as Kubernetes does
        unavailable = 1
    return RollingUpdate(max_surge=surge, max_unavailable=unavailable)


def _amount(
    subject: Subject, node: Located | None, path: str, replicas: int, *, up: bool
) -> tuple[int, int]:
    """(the number, the value as written: a count or a percentage) of maxSurge/maxUnavailable."""
    value = "25%" if node is None else node.value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            subject.fail(node, path, f"{value} must be 0 or more")
        return value, value
    match = _PERCENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        subject.fail(node, path, f'{show(value)} must be a number or a percentage like "25%"')
    percent = int(match.group(1))
    if percent > 100 and path.endswith("maxUnavailable"):
        subject.fail(node, path, f"{show(value)} must not be more than 100%")
    share = percent * replicas
    return (-(-share // 100) if up else share // 100), percent
