"""The reconcile decision: desired pods + containers seen on the engine -> actions.

Pure (kopf's "pure cause detection"): no Docker, no clock of its own. The loop (`agent`)
gathers the inputs, calls `decide`, runs the actions one pod at a time, and calls again
when anything changes. Every case is a row in tests/unit/agent/test_agent_reconcile.py.

Rules, as the kubelet applies them:
- a pod needs a running sandbox of its current uid and configuration; without one (new pod,
  sandbox died, node rebooted, template changed) the pod is started afresh: old containers
  stopped and removed (each container's latest attempt is kept, stopped, for its logs and
  last termination), a new sandbox, then every app container (restart count + 1 for those
  that existed) -- except a restart policy Never pod whose containers have run: it ends;
- an app container that exited is restarted by the restart policy (Always; OnFailure when
  the exit code is not 0; Never: not at all) after the crash-loop backoff;
- a running container whose configuration changed is replaced; one whose liveness or
  startup probe failed is killed (and then restarted by the policy);
- running containers that match are adopted as they are (nothing restarts when the agent
  does);
- containers of pods no longer wanted are stopped gracefully and removed;
- old attempts are removed, keeping the latest and the one before (for its logs and exit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from .backoff import DEFAULT_POLICY, BackoffPolicy
from .manifest import ContainerSpec, PodSpec
from .observed import (
    Observed,
    PodKey,
    current_sandbox,
    history,
    is_terminal,
    latest_attempt,
    restarts,
)

StreakKey = Tuple[str, str]  # (pod uid, container name)

CRASH_LOOP = "CrashLoopBackOff"


@dataclass(frozen=True)
class RemovePod:
    """Stop (gracefully) and remove every container of a pod that is no longer wanted."""

    key: PodKey
    containers: Tuple[Observed, ...]
    reason: str = "pod removed"


@dataclass(frozen=True)
class StartPod:
    """Replace whatever the pod has with a new sandbox and new app containers."""

    key: PodKey
    spec: PodSpec
    sandbox_attempt: int
    attempts: Tuple[Tuple[str, int], ...]  # (container name, attempt) in spec order
    replaces: Tuple[Observed, ...] = ()  # stopped, then removed unless kept
    reason: str = "new pod"
    # ids among `replaces` kept once stopped: each container's latest attempt of this uid,
    # so `logs --previous` and `last_termination` survive a new sandbox (a node restart)
    keep: Tuple[str, ...] = ()


@dataclass(frozen=True)
class StartContainer:
    """Create and start one app container in the pod's running sandbox."""

    key: PodKey
    spec: PodSpec
    container: ContainerSpec
    attempt: int
    sandbox_id: str
    stop_first: Optional[Observed] = None  # a running container this one replaces
    streak: Optional[int] = None  # new backoff streak to record once started (a restart)
    reason: str = "new container"


@dataclass(frozen=True)
class KillContainer:
    """Stop a running container (probe failure); the restart policy decides what follows."""

    key: PodKey
    container: Observed
    reason: str


@dataclass(frozen=True)
class RemoveContainers:
    """Remove containers nobody needs any more (old attempts, a finished pod's sandbox)."""

    key: PodKey
    containers: Tuple[Observed, ...]


Action = object  # one of the dataclasses above


@dataclass(frozen=True)
class Context:
    """Everything besides pods and containers that the decision depends on."""

    now: float
    streaks: Mapping[StreakKey, int] = field(default_factory=dict)
    kill: Mapping[str, str] = field(default_factory=dict)  # container id -> why
    busy: FrozenSet[PodKey] = frozenset()
    retry_at: Mapping[PodKey, float] = field(default_factory=dict)  # after a failed action
    policy: BackoffPolicy = DEFAULT_POLICY


@dataclass
class Decision:
    actions: List[Action] = field(default_factory=list)
    # (pod key, container name) -> (reason, message) for containers waiting on purpose
    waiting: Dict[Tuple[PodKey, str], Tuple[str, str]] = field(default_factory=dict)
    wake_at: Optional[float] = None  # when to decide again at the latest (a backoff ends)

    def wake(self, t: float) -> None:
        if self.wake_at is None or t < self.wake_at:
            self.wake_at = t


def decide(
    desired: Mapping[PodKey, PodSpec], observed: Sequence[Observed], ctx: Context
) -> Decision:
    """What to do now so that the engine converges on `desired`."""
    out = Decision()
    by_pod: Dict[PodKey, List[Observed]] = {}
    for o in observed:
        by_pod.setdefault(o.key, []).append(o)
    for key in sorted(set(by_pod) - set(desired)):
        if key not in ctx.busy:
            out.actions.append(RemovePod(key, tuple(_ordered(by_pod[key]))))
    for key in sorted(desired):
        if key in ctx.busy:
            continue
        retry = ctx.retry_at.get(key)
        if retry is not None and ctx.now < retry:
            out.wake(retry)
            continue
        _decide_pod(desired[key], by_pod.get(key, []), ctx, out)
    return out


def _decide_pod(spec: PodSpec, observed: List[Observed], ctx: Context, out: Decision) -> None:
    sandbox = current_sandbox(spec, observed)
    if sandbox is None:
        _decide_without_sandbox(spec, observed, out)
    elif is_terminal(spec, observed):  # nothing will run again: free the pod's address
        out.actions.append(RemoveContainers(spec.key, tuple(o for o in observed if o.is_sandbox)))
    else:
        _decide_with_sandbox(spec, observed, sandbox, ctx, out)


def _decide_without_sandbox(spec: PodSpec, observed: List[Observed], out: Decision) -> None:
    """No running sandbox of the current pod: it has ended, ends now, or starts afresh."""
    key = spec.key
    if is_terminal(spec, observed):
        extra = [o for o in observed if o.is_sandbox]
        if extra:
            out.actions.append(RemoveContainers(key, tuple(extra)))
        return
    ran = [o for o in observed if not o.is_sandbox and o.uid == spec.uid and not o.never_started]
    if spec.restart_policy == "Never" and ran:
        # The kubelet's rule: a Never pod whose containers have run is not started again
        # when its sandbox goes; what still runs is stopped and the pod ends.
        for o in ran:
            if o.running:
                out.actions.append(KillContainer(key, o, "sandbox gone; restart policy Never"))
        return
    out.actions.append(_start_afresh(spec, observed))


def _start_afresh(spec: PodSpec, observed: List[Observed]) -> StartPod:
    """A new sandbox and every container's next attempt; each one's latest attempt is kept."""
    sandboxes = [o.attempt for o in observed if o.is_sandbox and o.uid == spec.uid]
    attempts = []
    keep = []
    for c in spec.containers:
        latest = latest_attempt(observed, spec.uid, c.name)
        attempts.append((c.name, latest.attempt + 1 if latest is not None else 0))
        if latest is not None:
            keep.append(latest.id)
    had_sandbox = any(o.is_sandbox for o in observed)
    return StartPod(
        spec.key,
        spec,
        sandbox_attempt=max(sandboxes) + 1 if sandboxes else 0,
        attempts=tuple(attempts),
        replaces=tuple(_ordered(observed)),
        reason="sandbox changed" if had_sandbox else "new pod",
        keep=tuple(keep),
    )


def _decide_with_sandbox(
    spec: PodSpec, observed: List[Observed], sandbox: Observed, ctx: Context, out: Decision
) -> None:
    """The pod runs: start, replace, kill or restart single containers; drop leftovers."""
    garbage: List[Observed] = [o for o in observed if o.is_sandbox and o.id != sandbox.id]
    wanted_names = {c.name for c in spec.containers}
    garbage += [
        o
        for o in observed
        if not o.is_sandbox and (o.uid != spec.uid or o.container not in wanted_names)
    ]
    steps: List[Action] = []
    for c in spec.containers:
        hist = history(observed, spec.uid, c.name)
        latest = latest_attempt(observed, spec.uid, c.name)
        garbage += _old_attempts(hist, latest)
        step = _decide_container(spec, c, sandbox, latest, ctx, out)
        if step is not None:
            steps.append(step)
    if garbage:
        out.actions.append(RemoveContainers(spec.key, tuple(_ordered(garbage))))
    out.actions.extend(steps)


def _decide_container(
    spec: PodSpec,
    c: ContainerSpec,
    sandbox: Observed,
    latest: Optional[Observed],
    ctx: Context,
    out: Decision,
) -> Optional[Action]:
    key = spec.key
    if latest is None:
        return StartContainer(key, spec, c, 0, sandbox.id)
    if latest.config_hash != c.config_hash:
        return StartContainer(
            key,
            spec,
            c,
            latest.attempt + 1,
            sandbox.id,
            stop_first=latest if latest.running else None,
            reason="configuration changed",
        )
    if latest.running:
        why = ctx.kill.get(latest.id)
        if why:
            return KillContainer(key, latest, why)
        return None
    if not restarts(spec, latest):
        return None
    streak = ctx.policy.effective_streak(
        ctx.streaks.get((spec.uid, c.name), 0), latest.started_at, latest.finished_at
    )
    due = (latest.finished_at or 0.0) + ctx.policy.delay(streak)
    if ctx.now >= due:
        return StartContainer(
            key,
            spec,
            c,
            latest.attempt + 1,
            sandbox.id,
            streak=streak + 1,
            reason="restart (exit code %s)" % latest.exit_code,
        )
    out.waiting[(key, c.name)] = (
        CRASH_LOOP,
        "back-off %ds restarting failed container %s" % (ctx.policy.delay(streak), c.name),
    )
    out.wake(due)
    return None


def _old_attempts(hist: List[Observed], latest: Optional[Observed]) -> List[Observed]:
    """Attempts to remove: all but the latest and the newest exited one before it."""
    if latest is None:
        return list(hist)
    keep = {latest.id}
    before = [o for o in hist if o.attempt < latest.attempt and o.exited]
    if before:
        keep.add(before[-1].id)
    return [o for o in hist if o.id not in keep]


def _ordered(observed: Sequence[Observed]) -> List[Observed]:
    """App containers first, sandbox last (the sandbox holds their network)."""
    return sorted(observed, key=lambda o: (o.is_sandbox, o.container, o.attempt))
