"""`pp.Recreate()`: every old pod stops before any new one starts (planned, previewed)."""

from __future__ import annotations

import itertools
from typing import Any

from plan_builders import IMAGES, replan, stack_of, web_program

import podplay as pp
from podplay.dsl import Stack
from podplay.plan import Plan, diff, plan, stages
from podplay.plan.rollout import must_stop


def recreate(replicas: int = 3, **kwargs: Any) -> Stack:
    return web_program(replicas, strategy=pp.Recreate(), **kwargs)


def test_rolling_update_stays_the_default() -> None:
    (deployment,) = replan(web_program(2)).deployments
    assert deployment.strategy.type == "RollingUpdate"
    assert (deployment.strategy.max_surge, deployment.strategy.max_unavailable) == (1, 0)


def test_the_plan_records_recreate_and_reads_it_back() -> None:
    result = replan(recreate())
    assert result.deployments[0].strategy.model_dump() == {"type": "Recreate"}
    assert '"strategy": {\n        "type": "Recreate"\n      }' in result.to_json()
    assert Plan.from_json(result.to_json()) == result


def test_a_changed_template_deletes_every_old_pod_then_creates_every_new_one() -> None:
    before = replan(recreate())
    after = replan(recreate(env={"MODE": "v2"}), before)
    old = [p.name for p in sorted(before.pods, key=lambda p: p.serial)]
    new = [p.name for p in sorted(after.pods, key=lambda p: p.serial)]
    assert [(s.action, s.pods) for s in after.rollout] == [("delete", old), ("create", new)]


def test_scaling_with_a_new_template_stops_all_old_pods_and_starts_the_new_count() -> None:
    before = replan(recreate(3))
    up = replan(recreate(5, env={"MODE": "v2"}), before)
    assert [(s.action, len(s.pods)) for s in up.rollout] == [("delete", 3), ("create", 5)]
    down = replan(recreate(1, env={"MODE": "v2"}), before)
    assert [(s.action, len(s.pods)) for s in down.rollout] == [("delete", 3), ("create", 1)]


def test_scaling_alone_replaces_nothing_and_switching_strategy_alone_neither() -> None:
    before = replan(web_program(3))
    assert replan(recreate(5), before).rollout == []
    switched = replan(recreate(3), before)
    assert switched.rollout == [] and switched.pods == before.pods


def test_the_stages_go_through_no_pod_of_the_deployment_at_all() -> None:
    before = replan(recreate())
    after = replan(recreate(env={"MODE": "v2"}), before)
    plans = stages(before, after)
    assert [len(p.pods) for p in plans] == [3, 0, 3]
    assert {p.template_hash for p in plans[0].pods} == {before.deployments[0].template_hash}
    assert all(not s.endpoints for s in plans[1].services)  # the services have none meanwhile
    assert plans[-1] == after


def test_must_stop_names_the_removed_pods_of_recreate_deployments_only() -> None:
    before = replan(recreate())
    after = replan(recreate(env={"MODE": "v2"}), before)
    first, emptied, last = stages(before, after)
    assert must_stop(first, emptied) == {(p.namespace, p.name) for p in before.pods}
    assert must_stop(emptied, last) == set()
    rolling = replan(web_program(3, env={"MODE": "v2"}), replan(web_program(3)))
    walk = stages(replan(web_program(3)), rolling)
    assert all(must_stop(a, b) == set() for a, b in itertools.pairwise(walk))


def test_preview_says_what_stops_what_starts_and_which_services_go_dark() -> None:
    before = replan(recreate())
    after = replan(recreate(env={"MODE": "v2"}), before)
    lines = [str(c) for c in diff(before, after) if c.kind == "Deployment"]
    assert lines == [
        "~  Deployment default/web: recreate (3 pods stop, then 3 start; services "
        "default/web, default/web-public have no ready endpoint meanwhile), "
        "template.containers[0].env.MODE"
    ]


def test_preview_of_one_pod_and_a_service_that_keeps_other_endpoints() -> None:
    def program(mode: str) -> Stack:
        def build() -> None:
            pp.Cluster("dev", nodes=2)
            web = pp.Deployment(
                "web",
                containers=[pp.Container("web", "busybox", env={"MODE": mode})],
                labels={"app": "web", "tier": "front"},
                strategy=pp.Recreate(),
            )
            pp.Deployment(
                "canary",
                containers=[pp.Container("web", "busybox")],
                labels={"tier": "front", "track": "canary"},
            )
            pp.Service("web", selector=web, ports=[80])
            pp.Service("front", selector={"tier": "front"}, ports=[80])

        return stack_of(build)

    before = plan(program("v1"), None, None, IMAGES)
    after = plan(program("v2"), before, None, IMAGES)
    (line,) = [str(c) for c in diff(before, after) if c.kind == "Deployment"]
    assert line == (
        "~  Deployment default/web: recreate (1 pod stops, then 1 starts; service default/web "
        "has no ready endpoint meanwhile), template.containers[0].env.MODE"
    )
