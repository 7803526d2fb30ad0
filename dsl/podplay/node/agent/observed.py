"""What the agent sees on the engine: its containers, found by their `io.podplay.*` labels.

Labels are the agent's memory that survives its own restart: which pod and container a
Docker container belongs to, which attempt it is (the restart count), which configuration
it was created from, and how long it may take to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from .manifest import SANDBOX

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
    def key(self):
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
