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
