"""What the agent sees on the engine: its containers, found by their `io.podplay.*` labels,
and the history of a pod they tell (attempts, the current sandbox, whether it has ended).

Labels are the agent's memory that survives its own restart: which pod and container a
Docker container belongs to, which attempt it is (the restart count), which configuration
it was created from, and how long it may take to stop. Pure: the decision (`reconcile`) and
the report (`status`) both read a pod's history through the helpers here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .manifest import SANDBOX, PodSpec

PodKey = Tuple[str, str]  # (namespace, pod name)

L_POD = "io.podplay.pod"
L_NAMESPACE = "io.podplay.namespace"
L_CONTAINER = "io.podplay.container"
L_UID = "io.podplay.uid"
L_TEMPLATE_HASH = "io.podplay.template-hash"
L_ATTEMPT = "io.podplay.attempt"
L_CONFIG_HASH = "io.podplay.config-hash"
L_GRACE = "io.podplay.grace-period"


@dataclass(frozen=True)
class Observed:
    """One podplay container on the engine, with the state Docker reports for it."""

    id: str
    name: str
    namespace: str
    pod: str
    container: str  # app container name, or "POD" for the sandbox
    uid: str
    attempt: int
    config_hash: str
    grace_period: int
    state: str  # running | exited | created | ... (Docker's words)
    exit_code: Optional[int] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    oom_killed: bool = False
    error: str = ""
    image: str = ""

    @property
    def key(self) -> PodKey:
        return (self.namespace, self.pod)

    @property
    def is_sandbox(self) -> bool:
        return self.container == SANDBOX

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused", "restarting")

    @property
    def never_started(self) -> bool:
        """Created but never started (e.g. the agent stopped between create and start)."""
        return self.state == "created"

    @property
    def exited(self) -> bool:
        return not self.running and not self.never_started

    def termination_reason(self) -> str:
        if self.oom_killed:
            return "OOMKilled"
        if self.exit_code == 0:
            return "Completed"
        return "Error"


def container_name(namespace: str, pod: str, container: str, uid: str, attempt: int) -> str:
    """Docker name of one attempt of one container: unique on the engine, readable in ps."""
    return "pp_%s_%s_%s_%s_%d" % (namespace, pod, container, uid[:8], attempt)


def labels_for(
    namespace: str,
    pod: str,
    container: str,
    uid: str,
    template_hash: str,
    attempt: int,
    config_hash: str,
    grace_period: int,
) -> Dict[str, str]:
    return {
        L_POD: pod,
        L_NAMESPACE: namespace,
        L_CONTAINER: container,
        L_UID: uid,
        L_TEMPLATE_HASH: template_hash,
        L_ATTEMPT: str(attempt),
        L_CONFIG_HASH: config_hash,
        L_GRACE: str(grace_period),
    }


def from_labels(
    cid: str, name: str, labels: Dict[str, str], state: str, **details
) -> Optional[Observed]:
    """An `Observed` from a container's labels, or None when they are not podplay's."""
    try:
        return Observed(
            id=cid,
            name=name.lstrip("/"),
            namespace=labels[L_NAMESPACE],
            pod=labels[L_POD],
            container=labels[L_CONTAINER],
            uid=labels.get(L_UID, ""),
            attempt=int(labels.get(L_ATTEMPT, "0")),
            config_hash=labels.get(L_CONFIG_HASH, ""),
            grace_period=int(labels.get(L_GRACE, "30")),
            state=state,
            **details,
        )
    except (KeyError, ValueError):
        return None


# -- a pod's history, as its containers on the engine tell it -------------------------------


def history(observed: Sequence[Observed], uid: str, name: str) -> List[Observed]:
    """Attempts of one container of one pod incarnation, oldest first."""
    return sorted(
        (o for o in observed if o.uid == uid and o.container == name),
        key=lambda o: o.attempt,
    )


def latest_attempt(observed: Sequence[Observed], uid: str, name: str) -> Optional[Observed]:
    """The newest attempt that was ever started (created-only leftovers do not count)."""
    started = [o for o in history(observed, uid, name) if not o.never_started]
    return started[-1] if started else None


def current_sandbox(spec: PodSpec, observed: Sequence[Observed]) -> Optional[Observed]:
    """The running sandbox of this pod's current uid and configuration, if any."""
    for o in sorted(observed, key=lambda o: -o.attempt):
        if o.is_sandbox and o.running and o.uid == spec.uid and o.config_hash == spec.sandbox_hash:
            return o
    return None


def restarts(spec: PodSpec, exited: Observed) -> bool:
    """Whether the pod's restart policy restarts this exited container."""
    return spec.restart_policy == "Always" or (
        spec.restart_policy == "OnFailure" and exited.exit_code != 0
    )


def is_terminal(spec: PodSpec, observed: Sequence[Observed]) -> bool:
    """Every container exited and the restart policy restarts none of them."""
    if spec.restart_policy == "Always":
        return False
    for c in spec.containers:
        latest = latest_attempt(observed, spec.uid, c.name)
        if latest is None or not latest.exited or restarts(spec, latest):
            return False
    return True


def find_container(
    observed: Sequence[Observed],
    key: PodKey,
    container: Optional[str],
    current_uid: str,
    previous: bool = False,
) -> Tuple[Optional[Observed], str]:
    """The container a logs request means (the pod's current incarnation first), or
    (None, why not)."""
    namespace, pod = key
    seen = [o for o in observed if o.key == key and not o.is_sandbox]
    if not seen:
        return None, "pod %s/%s has no containers on this node" % (namespace, pod)
    names = sorted({o.container for o in seen})
    if container is None:
        if len(names) > 1:
            return None, "pod %s/%s has containers %s: choose one with container=" % (
                namespace,
                pod,
                ", ".join(names),
            )
        container = names[0]
    attempts = sorted(
        (o for o in seen if o.container == container and not o.never_started),
        key=lambda o: (o.uid == current_uid, o.attempt),
    )
    if previous:
        attempts = attempts[:-1]
    if not attempts:
        return None, "pod %s/%s has no %scontainer %s" % (
            namespace,
            pod,
            "previous " if previous else "",
            container,
        )
    return attempts[-1], ""
