"""A pod's status and the decisions on it, defined once for `podplay up`'s wait and `rollout
step`'s: ready with the planned IP or why not; routed on every node, or still routed on one.
(The agent's own output reads back through it: tests/unit/agent/test_agent_status.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from podplay.node.contract.errors import ContractError
from podplay.node.contract.pod_status import (
    UNREADABLE,
    PodStatus,
    not_ready,
    read_statuses,
    why_not_ready,
)
from podplay.node.contract.proxy_status import not_routed, still_routed
from podplay.node.contract.rollout import PodRef

IP = "10.244.1.7"
ENGINE_SAID = (
    "starting pp_default_web_0: failed to create shim task: OCI runtime create failed: "
    'runc create failed: unable to start container process: exec: "httpdx": executable '
    "file not found in $PATH: unknown"
)


def doc(**more: Any) -> dict[str, Any]:
    return {"namespace": "default", "name": "web-b", "ip": IP, "phase": "Running",
            "ready": True, **more}  # fmt: skip


def waiting(reason: str, **more: Any) -> dict[str, Any]:
    return {"name": "web", "state": "waiting", "reason": reason, **more}


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (doc(), None),
        (doc(ip=None), None),  # an IP not reported is no other IP
        (doc(ip="10.244.1.9"), "has IP 10.244.1.9, planned 10.244.1.7"),
        (doc(ready=False), "Running, not ready"),
        (doc(ready=False, message="node restarted"), "Running, not ready (node restarted)"),
        (doc(ready=True, phase="Pending"), "Pending"),
        (doc(ready=False, phase="Failed", reason="ImageNotPresent", message="no pause image"),
         "ImageNotPresent (no pause image)"),
        (doc(ready=False, containers=[waiting("ContainerCreating")]), "Running, not ready"),
        (doc(ready=False, containers=[waiting("CrashLoopBackOff",
                                              last_termination={"exit_code": 3})]),
         "CrashLoopBackOff (last exit code 3)"),
        (doc(ready=False, phase="Pending", containers=[waiting("StartError", message=ENGINE_SAID)]),
         "StartError: ..." + ENGINE_SAID[-97:]),  # the end of the engine's words, 100 in all
    ],
)  # fmt: skip
def test_why_not_ready_names_what_holds_the_pod(status: dict, reason: str | None) -> None:
    assert why_not_ready(PodStatus.from_json(status), IP) == reason


def test_a_pod_not_reported_is_not_ready() -> None:
    assert why_not_ready(None, IP) == "not reported by the agent yet"


def test_a_status_round_trips_with_the_node_that_reported_it() -> None:
    full = {**doc(node="node2", uid="u1", labels={"app": "web"}, reason=None, message=None,
                  started_at="2026-11-25T15:00:00Z", template_hash="t1"),
            "containers": [{"name": "web", "container_id": "c1", "image": "busybox:1",
                            "state": "running", "reason": None, "message": None, "ready": True,
                            "restart_count": 1, "started_at": None, "exit_code": None,
                            "finished_at": None,
                            "last_termination": {"reason": "Error", "exit_code": 1,
                                                 "finished_at": None}}]}  # fmt: skip
    status = PodStatus.from_json(full)
    assert status.key == ("default", "web-b") and status.node == "node2" and status.serving
    assert status.to_json() == full


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phase": "Done"}, "pod status: phase: expected one of Pending, Running, Succeeded, "
                            "Failed, Unknown, got 'Done'"),
        ({"ready": "yes"}, "pod status: ready: expected true or false, got 'yes'"),
        ({"ready": None}, "pod status: ready: missing (true or false is required)"),
        ({"readdy": True}, "pod status: readdy: unknown field"),
        ({"containers": [{"state": "running"}]},
         "pod status: containers[0].name: missing (a non-empty string is required)"),
        ({"containers": [{"name": "web", "state": "gone"}]},
         "pod status: containers[0].state: expected one of running, waiting, terminated, "
         "got 'gone'"),
        ({"containers": [waiting("X", last_termination={"exit_code": "3"})]},
         "pod status: containers[0].last_termination.exit_code: expected an integer, got '3'"),
    ],
)  # fmt: skip
def test_a_status_that_breaks_the_contract_is_refused_naming_the_field(
    change: dict, message: str
) -> None:
    with pytest.raises(ContractError) as err:
        PodStatus.from_json({**doc(), **change})
    assert str(err.value) == message


def test_an_unreadable_status_is_an_unknown_pod_saying_why_not_a_missing_one() -> None:
    read = read_statuses([doc(phase="Done", node="node1"), {"phase": "Running"}, doc(name="ok")])
    assert [s.name for s in read] == ["web-b", "ok"]  # the one without a name cannot match
    broken = read[0]
    assert (broken.phase, broken.ready, broken.reason, broken.node) == (
        "Unknown", False, UNREADABLE, "node1")  # fmt: skip
    assert why_not_ready(broken, IP) == (
        "StatusUnreadable (pod status: phase: expected one of Pending, Running, Succeeded, "
        "Failed, Unknown, got 'Done')"
    )


def test_not_ready_decides_every_planned_pod_from_the_report_of_its_own_node() -> None:
    planned = [PodRef("default", n, "node1", IP) for n in ("web-a", "web-b", "web-c", "web-d")]
    reported = [
        doc(name="web-a", node="node1"),  # ready where planned
        doc(name="web-b", node="node2"),  # its old node still reports it: does not count
        doc(name="web-c"),  # one agent asked (rollout step): no node said, it counts
        doc(name="web-d", node="node1", ready=False),
    ]
    assert not_ready(reported, planned) == {
        ("default", "web-b"): "not reported by the agent yet",
        ("default", "web-d"): "Running, not ready",
    }
    assert not_ready([doc(name="web-b", node="node2"), doc(name="web-b", node="node1")],
                     planned[1:2]) == {}  # fmt: skip


A = "default/web-a@10.244.1.5"
B = "default/web-b@10.244.2.5"
NODES = ["node1", "node2", "node3"]


def test_not_routed_names_each_node_that_does_not_route_an_endpoint_yet() -> None:
    proxies = {"node1": {"ready_endpoints": [A, B]}, "node2": {"ready_endpoints": [A]},
               "node3": None}  # fmt: skip
    assert not_routed([B, A], NODES, proxies) == {"node2": [B], "node3": [B, A]}
    assert not_routed([A], NODES[:2], proxies) == {}  # routed on every node asked
    assert not_routed([A], ["node4"], proxies) == {"node4": [A]}  # no status: cannot say


def test_still_routed_names_each_node_that_has_not_dropped_an_endpoint() -> None:
    proxies = {"node1": {"ready_endpoints": [A, B]}, "node2": {"ready_endpoints": [B]},
               "node3": {"ready_endpoints": "garbage"}}  # fmt: skip
    assert still_routed([B, A], NODES, proxies) == {"node1": [A, B], "node2": [B], "node3": [A, B]}
    assert still_routed([A], ["node2"], proxies) == {}
