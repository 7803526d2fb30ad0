"""The per-resource diff `podplay preview` will show."""

from __future__ import annotations

from plan_builders import replan, web_program

from podplay.plan import diff
from podplay.plan.diff import changed_paths, summary


def test_no_previous_plan_creates_everything() -> None:
    result = replan(web_program(2, nodes=2))
    changes = diff(None, result)
    assert {(c.op, c.kind) for c in changes} == {
        ("+", "Node"),
        ("+", "Deployment"),
        ("+", "Service"),
        ("+", "Pod"),
    }
    assert summary(changes) == "7 to create, 0 to update, 0 to delete, 0 to replace"


def test_an_unchanged_program_has_no_changes() -> None:
    result = replan(web_program(3))
    assert diff(result, replan(web_program(3), result)) == []
    assert summary([]) == "no changes"


def test_scaling_shows_the_replica_count_and_exactly_the_new_pods() -> None:
    before = replan(web_program(3))
    after = replan(web_program(5), before)
    changes = diff(before, after)
    assert [str(c) for c in changes if c.kind == "Deployment"] == [
        "~  Deployment default/web: replicas"
    ]
    created = [c for c in changes if c.kind == "Pod"]
    assert [c.op for c in created] == ["+", "+"]


def test_a_new_template_replaces_pods_naming_the_field() -> None:
    before = replan(web_program(2))
    after = replan(web_program(2, env={"MODE": "v2"}), before)
    changes = diff(before, after)
    pods = [c for c in changes if c.kind == "Pod"]
    assert [c.op for c in pods] == ["+-", "+-"]
    assert all(c.fields == ["containers[0].env.MODE"] for c in pods)
    assert {c.replaces for c in pods} == {p.name for p in before.pods}
    deployment = next(c for c in changes if c.kind == "Deployment")
    assert deployment.fields == ["template.containers[0].env.MODE"]


def test_changed_paths() -> None:
    assert changed_paths({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == ["a[1].b"]
    assert changed_paths({"a": [1]}, {"a": [1, 2]}) == ["a"]
    assert changed_paths({"a": 1}, {"b": 1}) == ["a", "b"]


def test_a_rolling_update_says_its_steps_old_pods_draining_while_new_ones_start() -> None:
    before = replan(web_program(3))
    after = replan(web_program(3, env={"MODE": "v2"}), before)
    old = [p.name for p in sorted(before.pods, key=lambda p: p.serial)]
    new = [p.name for p in sorted(after.pods, key=lambda p: p.serial)]
    deployment = next(c for c in diff(before, after) if c.kind == "Deployment")
    assert deployment.rollout == (
        f"rolling update (4 steps: start {new[0]}"
        f" | drain {old[0]} while starting {new[1]}"
        f" | stop {old[0]} (drained); drain {old[1]} while starting {new[2]}"
        f" | stop {old[1]} (drained); drain and stop {old[2]})"
    )
    assert str(deployment).endswith(f"{old[2]}), template.containers[0].env.MODE")


def test_a_long_rolling_update_shows_its_first_and_last_steps() -> None:
    before = replan(web_program(10))
    after = replan(web_program(10, env={"MODE": "v2"}), before)
    deployment = next(c for c in diff(before, after) if c.kind == "Deployment")
    assert deployment.rollout is not None
    steps = deployment.rollout.removeprefix("rolling update (").removesuffix(")").split(" | ")
    assert steps[0].startswith("11 steps: start ") and steps[3] == "... 6 more ..."
    assert len(steps) == 6 and steps[-1].startswith("stop ") and "; drain and stop " in steps[-1]


def test_scaling_alone_has_no_rollout_note() -> None:
    before = replan(web_program(3))
    after = replan(web_program(5), before)
    assert all(c.rollout is None for c in diff(before, after))
