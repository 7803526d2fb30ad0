"""A pod's status as the agent API reports it (`GET /v1/pods`, the watch stream's snapshots),
and the one decision every waiter makes on it: does the pod run ready with its planned IP,
and if not, why not.

The agent writes these documents (`podplay.node.agent.status`; a unit test reads its output
back through `PodStatus.from_json`); `podplay up`'s wait on the machine that runs podplay
(`podplay.control.progress`) and `rollout step`'s wait on a node (`podplay.node.rollout.wait`)
both ask `not_ready` (read every status, decide for every planned pod, in one call), and
`podplay get` decides one pod with `why_not_ready`, so a pod is ready, or held up for the
same reason in the same words, wherever it is looked at.

    {"name", "namespace", "uid", "labels", "ip", "phase": "Pending|Running|Succeeded|Failed|
     Unknown", "ready", "reason", "message", "started_at", "template_hash",
     "containers": [{"name", "container_id", "image", "state": "running|waiting|terminated",
                     "reason", "message", "ready", "restart_count", "started_at",
                     "exit_code", "finished_at",
                     "last_termination": {"reason", "exit_code", "finished_at"} | null}],
     "node"?}     the node whose agent reported it (added by the reader that asked several)

`name`, `namespace`, `phase` and `ready` are required of a reader's document (the rest
describe the pod for people). Messages start with "pod status: " and name the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Protocol, Tuple

from podplay.node.contract import fields
from podplay.node.contract.errors import ContractError

WHERE = "pod status"
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
STATES = ("running", "waiting", "terminated")
MESSAGE_LIMIT = 100  # the end of a long engine message, where its cause is
UNREADABLE = "StatusUnreadable"  # the reason of a status `read_statuses` could not read
_POD_FIELDS = ("name", "namespace", "uid", "labels", "ip", "phase", "ready", "reason", "message",
               "started_at", "template_hash", "containers", "node")  # fmt: skip
_CONTAINER_FIELDS = ("name", "container_id", "image", "state", "reason", "message", "ready",
                     "restart_count", "started_at", "exit_code", "finished_at",
                     "last_termination")  # fmt: skip
_TERMINATION_FIELDS = ("reason", "exit_code", "finished_at")
_OPTIONAL_TEXT = ("uid", "ip", "reason", "message", "started_at", "template_hash")


@dataclass(frozen=True)
class Termination:
    """How a container's previous attempt ended."""

    reason: Optional[str] = None
    exit_code: Optional[int] = None
    finished_at: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        return {"reason": self.reason, "exit_code": self.exit_code, "finished_at": self.finished_at}


@dataclass(frozen=True)
class ContainerStatus:
    """One container of a pod: its state now and how its last attempt ended."""

    name: str
    state: str = "waiting"
    reason: Optional[str] = None
    message: Optional[str] = None
    ready: bool = False
    restart_count: int = 0
    container_id: Optional[str] = None
    image: Optional[str] = None
    started_at: Optional[str] = None
    exit_code: Optional[int] = None
    finished_at: Optional[str] = None
    last_termination: Optional[Termination] = None

    def to_json(self) -> Dict[str, Any]:
        last = self.last_termination
        return {
            "name": self.name,
            "container_id": self.container_id,
            "image": self.image,
            "state": self.state,
            "reason": self.reason,
            "message": self.message,
            "ready": self.ready,
            "restart_count": self.restart_count,
            "started_at": self.started_at,
            "last_termination": None if last is None else last.to_json(),
            "exit_code": self.exit_code,
            "finished_at": self.finished_at,
        }


@dataclass(frozen=True)
class PodStatus:
    """One pod as its node's agent reports it."""

    name: str
    namespace: str
    phase: str
    ready: bool
    ip: Optional[str] = None
    uid: Optional[str] = None
    labels: Tuple[Tuple[str, str], ...] = ()
    reason: Optional[str] = None
    message: Optional[str] = None
    started_at: Optional[str] = None
    template_hash: Optional[str] = None
    containers: Tuple[ContainerStatus, ...] = ()
    node: Optional[str] = None  # the node whose agent reported it, where the reader says

    @property
    def key(self) -> Tuple[str, str]:
        """(namespace, name)."""
        return self.namespace, self.name

    @property
    def serving(self) -> bool:
        """Running and ready: its containers all run and pass their probes."""
        return self.phase == "Running" and self.ready

    @classmethod
    def from_json(cls, doc: Any) -> PodStatus:
        """Validate one decoded status; ContractError naming the field."""
        return _pod(doc)

    def to_json(self) -> Dict[str, Any]:
        out = {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "labels": dict(self.labels),
            "ip": self.ip,
            "phase": self.phase,
            "ready": self.ready,
            "reason": self.reason,
            "message": self.message,
            "started_at": self.started_at,
            "template_hash": self.template_hash,
            "containers": [c.to_json() for c in self.containers],
        }
        if self.node is not None:
            out["node"] = self.node
        return out


def read_statuses(docs: Iterable[Any]) -> List[PodStatus]:
    """Every status of an agent's answer. One that does not read stands as an `Unknown`,
    unready pod whose message says why (a wait then names the fault instead of waiting for
    a pod "not reported"); one without even a name is left out (nothing could match it)."""
    out = []
    for doc in docs:
        try:
            out.append(_pod(doc))
        except ContractError as err:
            named = _unreadable(doc, str(err))
            if named is not None:
                out.append(named)
    return out


class Planned(Protocol):
    """A pod as planned: where it runs and with which IP (a plan's pod, a rollout's PodRef)."""

    namespace: str
    name: str
    node: str
    ip: str


def not_ready(docs: Iterable[Any], planned: Iterable[Planned]) -> Dict[Tuple[str, str], str]:
    """Each of the `planned` pods that does not run ready as planned yet, by (namespace,
    name), with why (`why_not_ready`'s words); a pod left out is ready. A status counts for a
    planned pod when the node it is planned on reported it, or when the reader asked one
    agent only (a status without `node`): a node a pod was moved away from does not count."""
    seen = {(s.node, s.namespace, s.name): s for s in read_statuses(docs)}
    out: Dict[Tuple[str, str], str] = {}
    for pod in planned:
        status = seen.get((pod.node, pod.namespace, pod.name))
        reason = why_not_ready(status or seen.get((None, pod.namespace, pod.name)), pod.ip)
        if reason is not None:
            out[(pod.namespace, pod.name)] = reason
    return out


def why_not_ready(status: Optional[PodStatus], ip: str) -> Optional[str]:
    """None when the pod runs ready with its planned `ip`, else why not, in a few words (the
    caller names the pod and its node in front): not reported, another IP, the first
    container held up (with its last exit code and the end of the engine's message), or the
    pod's phase or reason and message."""
    if status is None:
        return "not reported by the agent yet"
    if status.ip not in (None, ip):
        return "has IP %s, planned %s" % (status.ip, ip)
    if status.serving:
        return None
    for c in status.containers:
        if c.state == "waiting" and c.reason not in (None, "ContainerCreating"):
            detail = c.reason or ""
            if c.last_termination is not None and c.last_termination.exit_code is not None:
                detail += " (last exit code %d)" % c.last_termination.exit_code
            if c.message:  # e.g. the runtime's "executable file `x` not found in $PATH"
                detail += ": " + tail(c.message)
            return detail
    reason = "Running, not ready" if status.phase == "Running" else status.reason or status.phase
    return reason + (" (%s)" % status.message if status.message else "")


def tail(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """The end of a long engine message (where its cause is), on one line."""
    text = " ".join(message.split())
    return text if len(text) <= limit else "..." + text[-(limit - 3) :]


def _pod(doc: Any) -> PodStatus:
    fields.only(fields.document(doc, WHERE), _POD_FIELDS, WHERE)
    text = {f: fields.optional(doc, f, WHERE, str) for f in _OPTIONAL_TEXT}
    raw = enumerate(fields.optional(doc, "containers", WHERE, list) or [])
    return PodStatus(
        name=fields.string(doc, "name", WHERE),
        namespace=fields.string(doc, "namespace", WHERE),
        phase=fields.one_of(fields.required(doc, "phase", WHERE, str), PHASES, WHERE + ": phase"),
        ready=fields.required(doc, "ready", WHERE, bool),
        labels=fields.string_pairs(fields.string_map(doc, "labels", WHERE)),
        containers=tuple(_container(c, "%s: containers[%d]" % (WHERE, i)) for i, c in raw),
        node=fields.optional(doc, "node", WHERE, str),
        **text,
    )


def _container(doc: Any, where: str) -> ContainerStatus:
    fields.only(fields.document(doc, where), _CONTAINER_FIELDS, where, ".")
    state = fields.optional(doc, "state", where, str, ".") or "waiting"
    last = fields.optional(doc, "last_termination", where, dict, ".")
    return ContainerStatus(
        name=fields.string(doc, "name", where, "."),
        state=fields.one_of(state, STATES, where + ".state"),
        reason=fields.optional(doc, "reason", where, str, "."),
        message=fields.optional(doc, "message", where, str, "."),
        ready=bool(fields.optional(doc, "ready", where, bool, ".")),
        restart_count=fields.optional(doc, "restart_count", where, int, ".") or 0,
        container_id=fields.optional(doc, "container_id", where, str, "."),
        image=fields.optional(doc, "image", where, str, "."),
        started_at=fields.optional(doc, "started_at", where, str, "."),
        exit_code=fields.optional(doc, "exit_code", where, int, "."),
        finished_at=fields.optional(doc, "finished_at", where, str, "."),
        last_termination=None if last is None else _termination(last, where + ".last_termination"),
    )


def _termination(doc: Dict[str, Any], where: str) -> Termination:
    fields.only(doc, _TERMINATION_FIELDS, where, ".")
    return Termination(
        reason=fields.optional(doc, "reason", where, str, "."),
        exit_code=fields.optional(doc, "exit_code", where, int, "."),
        finished_at=fields.optional(doc, "finished_at", where, str, "."),
    )


def _unreadable(doc: Any, why: str) -> Optional[PodStatus]:
    """A status that did not read, as an Unknown pod saying why; None without a name."""
    if not isinstance(doc, dict):
        return None
    name, namespace, node = doc.get("name"), doc.get("namespace"), doc.get("node")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    node = node if isinstance(node, str) else None
    return PodStatus(name, namespace, "Unknown", False, reason=UNREADABLE, message=why, node=node)
