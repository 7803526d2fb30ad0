"""The reconcile decision as a table: (desired, seen on the engine, context) -> actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from agent_builders import manifest, obs, spec

from podplay.node.agent.backoff import BackoffPolicy
from podplay.node.agent.manifest import PodSpec
from podplay.node.agent.reconcile import (
    Context,
    KillContainer,
    RemoveContainers,
    RemovePod,
    StartContainer,
    StartPod,
    decide,
)

WEB = spec()
TWO = spec(
    name="two",
    containers=[
        {"name": "app", "image": "podplay/app:1"},
        {"name": "side", "image": "podplay/side:1"},
    ],
)
NEVER = spec(name="job", restart_policy="Never")
ONFAIL = spec(name="task", restart_policy="OnFailure")
WEB_V2 = spec(
    containers=[dict(manifest()["containers"][0], image="podplay/web:2")],
)
WEB_NEW_UID = spec(uid="u2", template_hash="t2")


def summary(a: Any) -> tuple:
    """An action as a short, comparable tuple."""
    if isinstance(a, StartPod):
        return (
            "StartPod",
            a.key[1],
            a.sandbox_attempt,
            a.attempts,
            [o.id for o in a.replaces],
            a.reason,
            list(a.keep),
        )
    if isinstance(a, StartContainer):
        return (
            "StartContainer",
            a.key[1],
            a.container.name,
            a.attempt,
            a.stop_first.id if a.stop_first else None,
            a.streak,
        )
    if isinstance(a, KillContainer):
        return ("Kill", a.container.id, a.reason)
    if isinstance(a, RemovePod):
        return ("RemovePod", a.key[1], [o.id for o in a.containers])
    if isinstance(a, RemoveContainers):
        return ("Remove", a.key[1], [o.id for o in a.containers])
    raise AssertionError(a)


@dataclass
class Case:
    desired: list[PodSpec]
    observed: list
    expect: list[tuple]
    now: float = 1000.0
    streaks: dict = field(default_factory=dict)
    kill: dict = field(default_factory=dict)
    busy: frozenset = frozenset()
    retry_at: dict = field(default_factory=dict)
    waiting: dict = field(default_factory=dict)
    wake_at: float | None = None
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)


def running(pod: PodSpec, *names: str) -> list:
    return [obs(pod, "POD")] + [obs(pod, n) for n in names]


CASES: dict[str, Callable[[], Case]] = {
    "new pod: sandbox then every container, attempt 0": lambda: Case(
        [TWO],
        [],
        [("StartPod", "two", 0, (("app", 0), ("side", 0)), [], "new pod", [])],
    ),
    "everything running and matching: adopted, nothing to do": lambda: Case(
        [WEB],
        running(WEB, "web"),
        [],
    ),
    "first crash: restarted at once, restart count 1": lambda: Case(
        [WEB],
        [obs(WEB, "POD"), obs(WEB, "web", 0, "exited", finished_at=999.0)],
        [("StartContainer", "web-1", "web", 1, None, 1)],
    ),
    "second crash within 10 s: waits in CrashLoopBackOff": lambda: Case(
        [WEB],
        [
            obs(WEB, "POD"),
            obs(WEB, "web", 0, "exited"),
            obs(WEB, "web", 1, "exited", finished_at=995.0),
        ],
        [],
        streaks={("u1", "web"): 1},
        waiting={
            (("default", "web-1"), "web"): (
                "CrashLoopBackOff",
                "back-off 10s restarting failed container web",
            )
        },
        wake_at=1005.0,
    ),
    "backoff over: restarted, streak grows": lambda: Case(
        [WEB],
        [
            obs(WEB, "POD"),
            obs(WEB, "web", 0, "exited"),
            obs(WEB, "web", 1, "exited", finished_at=990.0),
        ],
        [("StartContainer", "web-1", "web", 2, None, 2)],
        streaks={("u1", "web"): 1},
    ),
    "third crash waits 20 s": lambda: Case(
        [WEB],
        [obs(WEB, "POD"), obs(WEB, "web", 2, "exited", finished_at=990.0)],
        [],
        streaks={("u1", "web"): 2},
        waiting={
            (("default", "web-1"), "web"): (
                "CrashLoopBackOff",
                "back-off 20s restarting failed container web",
            )
        },
        wake_at=1010.0,
    ),
    "ran ten minutes before exiting: backoff reset, restarted at once": lambda: Case(
        [WEB],
        [obs(WEB, "POD"), obs(WEB, "web", 7, "exited", started_at=300.0, finished_at=999.0)],
        [("StartContainer", "web-1", "web", 8, None, 1)],
        streaks={("u1", "web"): 6},
    ),
    "OnFailure, exit 0: finished, sandbox released": lambda: Case(
        [ONFAIL],
        [obs(ONFAIL, "POD"), obs(ONFAIL, "web", 0, "exited", exit_code=0)],
        [("Remove", "task", ["task-POD-0"])],
    ),
    "OnFailure, exit 1: restarted": lambda: Case(
        [ONFAIL],
        [obs(ONFAIL, "POD"), obs(ONFAIL, "web", 0, "exited", exit_code=1)],
        [("StartContainer", "task", "web", 1, None, 1)],
    ),
    "Never, exit 1: not restarted, sandbox released": lambda: Case(
        [NEVER],
        [obs(NEVER, "POD"), obs(NEVER, "web", 0, "exited", exit_code=1)],
        [("Remove", "job", ["job-POD-0"])],
    ),
    "Never, sandbox gone under a running container: stopped, not started again": lambda: Case(
        [NEVER],
        [obs(NEVER, "POD", 0, "exited"), obs(NEVER, "web", 0)],
        [("Kill", "job-web-0", "sandbox gone; restart policy Never")],
    ),
    "Never, node rebooted: the pod has ended": lambda: Case(
        [NEVER],
        [obs(NEVER, "POD", 0, "exited"), obs(NEVER, "web", 0, "exited", exit_code=255)],
        [("Remove", "job", ["job-POD-0"])],  # the dead sandbox goes; the app stays, for logs
    ),
    "Never, never started yet: started": lambda: Case(
        [NEVER],
        [],
        [("StartPod", "job", 0, (("web", 0),), [], "new pod", [])],
    ),
    "Never, finished and sandbox gone: nothing more": lambda: Case(
        [NEVER],
        [obs(NEVER, "web", 0, "exited", exit_code=1)],
        [],
    ),
    "node rebooted (all exited): pod started afresh, restart counts go on": lambda: Case(
        [TWO],
        [obs(TWO, "POD", 0, "exited"), obs(TWO, "app", 2, "exited"), obs(TWO, "side", 0, "exited")],
        [
            (
                "StartPod",
                "two",
                1,
                (("app", 3), ("side", 1)),
                ["two-app-2", "two-side-0", "two-POD-0"],
                "sandbox changed",
                ["two-app-2", "two-side-0"],  # stopped, kept for logs --previous
            )
        ],
    ),
    "sandbox removed under a running app container: pod started afresh": lambda: Case(
        [WEB],
        [obs(WEB, "web", 0)],
        [("StartPod", "web-1", 0, (("web", 1),), ["web-1-web-0"], "new pod", ["web-1-web-0"])],
    ),
    "image changed: running container replaced, next attempt": lambda: Case(
        [WEB_V2],
        [obs(WEB_V2, "POD"), obs(WEB, "web", 0)],
        [("StartContainer", "web-1", "web", 1, "web-1-web-0", None)],
    ),
    "new uid (template changed): everything replaced, counts start over": lambda: Case(
        [WEB_NEW_UID],
        running(WEB, "web"),
        [
            (
                "StartPod",
                "web-1",
                0,
                (("web", 0),),
                ["web-1-web-0", "web-1-POD-0"],
                "sandbox changed",
                [],  # another uid: nothing of the old pod is kept
            )
        ],
    ),
    "manifest removed: app containers stopped before the sandbox": lambda: Case(
        [],
        running(TWO, "side", "app"),
        [("RemovePod", "two", ["two-app-0", "two-side-0", "two-POD-0"])],
    ),
    "liveness failed: container killed": lambda: Case(
        [WEB],
        running(WEB, "web"),
        [("Kill", "web-1-web-0", "liveness probe failed: HTTP 500")],
        kill={"web-1-web-0": "liveness probe failed: HTTP 500"},
    ),
    "pod busy with an action: left alone": lambda: Case(
        [WEB, TWO],
        [],
        [("StartPod", "two", 0, (("app", 0), ("side", 0)), [], "new pod", [])],
        busy=frozenset({("default", "web-1")}),
    ),
    "last action failed: retried later, not now": lambda: Case(
        [WEB],
        [],
        [],
        retry_at={("default", "web-1"): 1005.0},
        wake_at=1005.0,
    ),
    "failed action, retry time reached: tried again": lambda: Case(
        [WEB],
        [],
        [("StartPod", "web-1", 0, (("web", 0),), [], "new pod", [])],
        retry_at={("default", "web-1"): 1000.0},
    ),
    "old attempts removed, latest and the one before kept": lambda: Case(
        [WEB],
        [obs(WEB, "POD")] + [obs(WEB, "web", i, "exited") for i in range(3)] + [obs(WEB, "web", 3)],
        [("Remove", "web-1", ["web-1-web-0", "web-1-web-1"])],
    ),
    "created but never started leftover: removed, attempt number reused": lambda: Case(
        [WEB],
        [
            obs(WEB, "POD"),
            obs(WEB, "web", 0, "exited", finished_at=900.0),
            obs(WEB, "web", 1, "created", started_at=None),
        ],
        [("Remove", "web-1", ["web-1-web-1"]), ("StartContainer", "web-1", "web", 1, None, 1)],
    ),
    "two containers, one crashed: only that one restarted": lambda: Case(
        [TWO],
        [obs(TWO, "POD"), obs(TWO, "app", 0), obs(TWO, "side", 0, "exited")],
        [("StartContainer", "two", "side", 1, None, 1)],
    ),
    "a container dropped from the pod: removed": lambda: Case(
        [WEB],
        [*running(WEB, "web"), obs(WEB, "gone", 0, config_hash="x")],
        [("Remove", "web-1", ["web-1-gone-0"])],
    ),
    "stale sandbox beside the current one: removed": lambda: Case(
        [WEB],
        [obs(WEB, "POD", 0, "exited"), obs(WEB, "POD", 1), obs(WEB, "web", 0)],
        [("Remove", "web-1", ["web-1-POD-0"])],
    ),
    "a faster policy (configurable) is honoured": lambda: Case(
        [WEB],
        [obs(WEB, "POD"), obs(WEB, "web", 1, "exited", finished_at=999.0)],
        [("StartContainer", "web-1", "web", 2, None, 2)],
        streaks={("u1", "web"): 1},
        policy=BackoffPolicy(initial=1),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_decide(name: str) -> None:
    case = CASES[name]()
    ctx = Context(
        now=case.now,
        streaks=case.streaks,
        kill=case.kill,
        busy=case.busy,
        retry_at=case.retry_at,
        policy=case.policy,
    )
    desired = {p.key: p for p in case.desired}
    out = decide(desired, case.observed, ctx)
    assert [summary(a) for a in out.actions] == case.expect
    assert out.waiting == case.waiting
    assert out.wake_at == case.wake_at


def test_decide_is_stable_whatever_the_order_of_containers() -> None:
    seen = [obs(TWO, "POD"), obs(TWO, "app", 0, "exited"), obs(TWO, "side", 0, "exited")]
    a = decide({TWO.key: TWO}, seen, Context(now=1000.0))
    b = decide({TWO.key: TWO}, list(reversed(seen)), Context(now=1000.0))
    assert [summary(x) for x in a.actions] == [summary(x) for x in b.actions]
