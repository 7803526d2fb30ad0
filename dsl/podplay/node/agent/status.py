"""Pod status as the agent API reports it (PodStatus in dsl/podplay/node/README.md).

Pure: built from the manifests, the containers seen, probe readiness and the decision's
waiting reasons. Nothing here reads a clock, so an unchanged world gives an identical
status and the watch stream stays quiet.
"""

from __future__ import annotations

import time
from typing import AbstractSet, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .manifest import InvalidPod, PodSpec
from .observed import (
    Observed,
    PodKey,
    current_sandbox,
    history,
    is_terminal,
    latest_attempt,
    restarts,
)

ReadyOf = Callable[[Observed], bool]
Waiting = Mapping[Tuple[PodKey, str], Tuple[str, str]]  # (pod, container) -> (reason, message)
Reason = Tuple[str, Optional[str]]


def iso(t: Optional[float]) -> Optional[str]:
    """Epoch seconds -> `2026-11-25T15:00:00Z` (None stays None)."""
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def termination(o: Observed) -> Dict[str, Any]:
    return {
        "reason": o.termination_reason(),
        "exit_code": o.exit_code,
        "finished_at": iso(o.finished_at),
    }


def node_pods(
    desired: Mapping[PodKey, PodSpec],
    failed: Mapping[PodKey, InvalidPod],
    observed: Sequence[Observed],
    ready_of: ReadyOf,
    waiting: Waiting,
    errors: Mapping[PodKey, Tuple[str, str]],
    busy: AbstractSet[PodKey],
    node_problem: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """Every pod of this node: wanted, not runnable, or being stopped, sorted by name.
    `errors`: each pod's last failed action; `node_problem`: why the node cannot run pods
    (no engine, no pod network), None when it can."""
    by_key: Dict[PodKey, List[Observed]] = {}
    for o in observed:
        by_key.setdefault(o.key, []).append(o)
    pods = []
    for key, spec in desired.items():
        error = errors.get(key)
        if error is None and node_problem is not None:
            error = ("NodeNotReady", node_problem)
        pods.append(pod_status(spec, by_key.get(key, []), ready_of, waiting, error, key in busy))
    pods.extend(invalid_status(inv) for inv in failed.values())
    for key, seen in by_key.items():
        if key not in desired and key not in failed:
            pods.append(terminating_status(key, seen))
    if node_problem is not None:
        # Without an engine (no live-restore: a restarting engine stops every container)
        # nothing here can be vouched for: no endpoint of this node is ready.
        for p in pods:
            p["ready"] = False
            for c in p["containers"]:
                c["ready"] = False
    return sort_pods(pods)


def pod_status(
    spec: PodSpec,
    observed: Sequence[Observed],
    ready_of: ReadyOf,
    waiting: Waiting,
    error: Optional[Tuple[str, str]] = None,
    busy: bool = False,
) -> Dict[str, Any]:
    """Status of one wanted pod. `error` is (reason, message) of its last failed action."""
    sandbox = current_sandbox(spec, observed)
    terminal = sandbox is None and is_terminal(spec, observed)
    containers = []
    all_ready = True
    any_missing = False
    for c in spec.containers:
        latest = latest_attempt(observed, spec.uid, c.name)
        # while the pod is being (re)started its old containers do not count
        latest_live = None if sandbox is None and not terminal else latest
        cs = _container_status(
            spec, c.name, latest_live, latest, observed, ready_of, waiting, error, busy
        )
        if latest_live is None:
            any_missing = True
        if not cs["ready"]:
            all_ready = False
        containers.append(cs)

    reason = error[0] if error else None
    message = error[1] if error else None
    if terminal:
        failed = any(
            (latest_attempt(observed, spec.uid, c.name) or _NONE).exit_code != 0
            for c in spec.containers
        )
        phase = "Failed" if failed else "Succeeded"
        if not failed:
            reason = message = None
    elif sandbox is None or any_missing:
        phase = "Pending"
    else:
        phase = "Running"
    return {
        "name": spec.name,
        "namespace": spec.namespace,
        "uid": spec.uid,
        "labels": dict(spec.labels),
        "ip": spec.ip,
        "phase": phase,
        "ready": phase == "Running" and all_ready,
        "reason": reason,
        "message": message,
        "started_at": iso(sandbox.started_at) if sandbox is not None else None,
        "template_hash": spec.template_hash,
        "containers": containers,
    }


def _container_status(
    spec: PodSpec,
    name: str,
    latest: Optional[Observed],
    newest_ever: Optional[Observed],
    observed: Sequence[Observed],
    ready_of: ReadyOf,
    waiting: Waiting,
    error: Optional[Tuple[str, str]],
    busy: bool,
) -> Dict[str, Any]:
    out = _blank_container(spec, name)
    if latest is None:
        return _not_created(out, newest_ever, error, busy)
    out["container_id"] = latest.id
    out["restart_count"] = latest.attempt
    previous = [o for o in history(observed, spec.uid, name) if o.attempt < latest.attempt]
    previous = [o for o in previous if o.exited]
    if latest.running:
        out["state"] = "running"
        out["started_at"] = iso(latest.started_at)
        out["ready"] = ready_of(latest)
    else:
        why = _restart_pending(spec, name, latest, waiting, error, busy)
        if why is not None:
            out["reason"], out["message"] = why
            out["last_termination"] = termination(latest)
            return out
        out["state"] = "terminated"
        out["reason"] = latest.termination_reason()
        out["started_at"] = iso(latest.started_at)
        out["exit_code"] = latest.exit_code
        out["finished_at"] = iso(latest.finished_at)
    if previous:
        out["last_termination"] = termination(previous[-1])
    return out


def _blank_container(spec: PodSpec, name: str) -> Dict[str, Any]:
    return {
        "name": name,
        "container_id": None,
        "image": (spec.container(name) or _NONE_SPEC).image,
        "state": "waiting",
        "reason": None,
        "message": None,
        "ready": False,
        "restart_count": 0,
        "started_at": None,
        "last_termination": None,
        "exit_code": None,
        "finished_at": None,
    }


def _not_created(
    out: Dict[str, Any],
    newest_ever: Optional[Observed],
    error: Optional[Tuple[str, str]],
    busy: bool,
) -> Dict[str, Any]:
    """A container with no live attempt yet: being created, or its last action failed."""
    out["reason"] = error[0] if error and not busy else "ContainerCreating"
    out["message"] = error[1] if error and not busy else None
    if newest_ever is not None:  # the pod is restarting: keep counting
        out["restart_count"] = newest_ever.attempt + 1
        if newest_ever.exited:
            out["last_termination"] = termination(newest_ever)
    return out


def _restart_pending(
    spec: PodSpec,
    name: str,
    exited: Observed,
    waiting: Waiting,
    error: Optional[Tuple[str, str]],
    busy: bool,
) -> Optional[Reason]:
    """Why an exited container is waiting to run again (backoff, being restarted, a failed
    restart), or None when it stays terminated."""
    wait = waiting.get((spec.key, name))
    if wait is not None:
        return wait
    again = restarts(spec, exited)
    if again and busy:
        return ("ContainerCreating", None)
    if again and error is not None:
        return error
    return None


def invalid_status(pod: InvalidPod) -> Dict[str, Any]:
    """A manifest the agent cannot run: Failed, with the reason and the sentence why."""
    return {
        "name": pod.name,
        "namespace": pod.namespace,
        "uid": pod.uid,
        "labels": dict(pod.labels),
        "ip": pod.ip,
        "phase": "Failed",
        "ready": False,
        "reason": pod.reason,
        "message": pod.message,
        "started_at": None,
        "template_hash": "",
        "containers": [],
    }


def terminating_status(key: PodKey, observed: Sequence[Observed]) -> Dict[str, Any]:
    """A pod whose manifest is gone while its containers are still being stopped."""
    apps = [o for o in observed if not o.is_sandbox]
    return {
        "name": key[1],
        "namespace": key[0],
        "uid": observed[0].uid if observed else "",
        "labels": {},
        "ip": None,
        "phase": "Running" if any(o.running for o in observed) else "Succeeded",
        "ready": False,
        "reason": "Terminating",
        "message": "the pod's manifest was removed; its containers are being stopped",
        "started_at": None,
        "template_hash": "",
        "containers": [
            {
                "name": o.container,
                "container_id": o.id,
                "image": o.image,
                "state": "running" if o.running else "terminated",
                "reason": "Terminating",
                "message": None,
                "ready": False,
                "restart_count": o.attempt,
                "started_at": iso(o.started_at),
                "last_termination": None,
                "exit_code": o.exit_code if o.exited else None,
                "finished_at": iso(o.finished_at) if o.exited else None,
            }
            for o in sorted(apps, key=lambda o: (o.container, o.attempt))
        ],
    }


def sort_pods(pods: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return sorted(pods, key=lambda p: (p["namespace"], p["name"]))


class _Nothing:
    exit_code = None
    image = ""


_NONE = _Nothing()
_NONE_SPEC = _Nothing()
