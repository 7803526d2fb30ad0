"""`podplay verify` checks the pods where the control plane put them: the applied plan with
the store's moves written in (the verify plugin's refresh), or as applied when the store does
not answer."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
from test_plan_refresh import applied, facts, moved, on  # noqa: F401  (fixture)

from podplay.control import cluster_store
from podplay.control.cluster_store import StoreUnavailable
from podplay.plan import Plan
from podplay.verify import plugin


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    box = SimpleNamespace(view=None, error=None)

    def read_view(access: object) -> object:
        if box.error:
            raise StoreUnavailable(box.error)
        return box.view

    monkeypatch.setattr(cluster_store, "access_for_plan", lambda plan, pki: object())
    monkeypatch.setattr(cluster_store, "read_view", read_view)
    return box


def test_a_moved_pod_is_checked_on_its_new_node(applied: Plan, store: SimpleNamespace) -> None:  # noqa: F811
    pod = on(applied, "node2")
    binding = moved(pod, "node3", "10.244.3.9")
    store.view = SimpleNamespace(bindings={(pod.namespace, pod.name): binding}, cursors={})
    checked = plugin.with_the_stores_moves(applied)
    again = next(p for p in checked.pods if p.name == pod.name)
    assert (again.node, again.ip) == ("node3", "10.244.3.9")
    assert len(checked.pods) == len(applied.pods)


def test_no_store_answer_checks_the_plan_as_applied(applied: Plan, store: SimpleNamespace) -> None:  # noqa: F811
    store.error = "the store of cluster web does not answer"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert plugin.with_the_stores_moves(applied) is applied
    assert "does not answer" in str(seen[0].message)
