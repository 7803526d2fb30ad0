"""`podplay.automation.Stack.up` against the fake world of test_control_apply (no hosts):
the events come from the engine's reporter hooks in order, every playbook run arrives as
typed stats, a failed converge is a ConvergeFailed carrying them, and a caller that raises on
`Previewed` stops the apply before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_control_apply import FakeWorld, world  # noqa: F401 (the fixture)

import podplay as pp
from podplay.automation import (
    ConvergeFailed,
    Event,
    PhaseStarted,
    PlaybookFinished,
    Previewed,
    ProgramEvaluated,
    ResourceOperationEvent,
    Stack,
)
from podplay.control.state import StackState, stack_dir
from podplay.control.workspace import Workspace
from podplay.execute import HostStats, PlaybookResult, TaskEvent


def _shop() -> None:
    pp.Cluster("shop", nodes=3)
    web = pp.Deployment(
        "web", replicas=3, containers=[pp.Container("web", image="busybox:1", ports=[8080])]
    )
    pp.Service(
        "web", selector=web, type="NodePort", ports=[pp.ServicePort(80, 8080, node_port=30080)]
    )
    pp.export("port", 30080)


def _stack(tmp_path: Path) -> Stack:
    return Stack.from_function(_shop, name="app.py", directory=tmp_path)


def _index(events: list[Event], kind: type, **match: Any) -> int:
    for i, e in enumerate(events):
        if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no {kind.__name__} {match} in {events}")


def test_up_reports_phases_operations_and_playbooks_in_order(
    world: FakeWorld,  # noqa: F811
    tmp_path: Path,
) -> None:
    events: list[Event] = []
    result = _stack(tmp_path).up(on_event=events.append, wait_timeout=30)
    assert [p.playbook for p in result.playbooks] == ["site.yml"]
    run = result.playbooks[0]
    assert run.ok and run.hosts == {f"node{i}": HostStats(ok=2) for i in (1, 2, 3)}
    assert result.pods == 3 and result.stages == 1 and result.changed == 0
    assert result.outputs.exports == {"port": 30080}
    assert [s.name for s in result.outputs.services] == ["web"]
    assert _stack(tmp_path).outputs() == result.outputs
    assert isinstance(events[0], ProgramEvaluated)
    planned = [e for e in events if isinstance(e, ResourceOperationEvent)]
    assert [e.operation for e in planned] == list(result.operations) * 2
    assert {e.status for e in planned[: len(result.operations)]} == {"planned"}
    assert {e.status for e in planned[len(result.operations) :]} == {"done"}
    order = [
        _index(events, Previewed),
        _index(events, PhaseStarted, name="converge"),
        _index(events, PlaybookFinished),
        _index(events, PhaseStarted, name="wait"),
        _index(events, ResourceOperationEvent, status="done"),
    ]
    assert order == sorted(order)
    assert events[_index(events, PlaybookFinished)].run == run  # type: ignore[union-attr]


def test_a_failed_playbook_is_converge_failed_with_its_stats(
    world: FakeWorld,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    failed = TaskEvent("failed", "node2", "podplay.cluster.agent : start the agent", msg="boom")
    hosts = {"node1": HostStats(ok=3), "node2": HostStats(ok=1, failures=1)}
    result = PlaybookResult(rc=2, hosts=hosts, events=(failed,))
    monkeypatch.setattr(Workspace, "run", lambda self, book, **kw: result)
    events: list[Event] = []
    with pytest.raises(ConvergeFailed) as caught:
        _stack(tmp_path).up(on_event=events.append, wait_timeout=30)
    err = caught.value
    assert err.phase == "converge" and err.exit_code == 1
    assert err.failed_playbook is not None and err.failed_playbook.playbook == "site.yml"
    assert err.failed_playbook.failures == (failed,)
    assert err.failed_playbook.hosts == hosts
    assert "task 'podplay.cluster.agent : start the agent' failed on node2: boom" in str(err)
    assert [e.run for e in events if isinstance(e, PlaybookFinished)] == [err.failed_playbook]
    journal = StackState(stack_dir(tmp_path / "app.py", "shop")).journal()
    assert journal is not None  # the next up finishes the job


def test_raising_on_previewed_stops_before_anything_is_applied(
    world: FakeWorld,  # noqa: F811
    tmp_path: Path,
) -> None:
    class No(Exception):
        pass

    def refuse(event: Event) -> None:
        if isinstance(event, Previewed):
            raise No

    with pytest.raises(No):
        _stack(tmp_path).up(on_event=refuse)
    assert world.converges == []
    state = StackState(stack_dir(tmp_path / "app.py", "shop"))
    assert state.journal() is None and state.applied_plan() is None
