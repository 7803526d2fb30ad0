"""`rollout step` on a node: the wait's decisions and loop with a fake clock, and the step
(write, then wait) against a temporary pods directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from podplay.node.contract.errors import ContractError
from podplay.node.contract.rollout import PodRef, WaitSpec
from podplay.node.rollout import cli
from podplay.node.rollout.wait import Look, not_yet, wait

NEW = PodRef("default", "web-b", "node1", "10.244.1.7")
NEW_KEY = "default/web-b@10.244.1.7"
OLD_KEY = "default/web-a@10.244.2.3"
NODES = ("node1", "node2")


class FakeNode:
    """This node's agent and proxy, changing as the clock goes (`at`: time -> change)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pods: list[dict[str, Any]] | None = []
        self.routed: list[str] = []
        self.events: list[tuple[float, Any]] = []
        self.slept: list[float] = []

    def at(self, when: float, change: Any) -> None:
        self.events.append((when, change))

    def look(self) -> Look:
        return Look(pods=self._pods, proxy=self._proxy, clock=lambda: self.now, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        for when, change in [e for e in self.events if e[0] <= self.now]:
            change()
            self.events.remove((when, change))

    def _pods(self) -> tuple[list[dict[str, Any]] | None, str]:
        return (None, "connection refused") if self.pods is None else (list(self.pods), "")

    def _proxy(self) -> dict[str, Any]:
        return {"ready_endpoints": list(self.routed)}


def status(name: str, *, ready: bool = True, ip: str = "10.244.1.7", **more: Any) -> dict:
    return {"namespace": "default", "name": name, "ip": ip, "phase": "Running",
            "ready": ready, **more}  # fmt: skip


def test_new_pods_must_be_ready_here_and_routed_before_the_step_is_done() -> None:
    node = FakeNode()
    spec = WaitSpec(ready=(NEW,), routed=(NEW_KEY,), routing_nodes=NODES, timeout=30)
    node.at(1.0, lambda: node.pods.append(status("web-b", ready=False)))  # type: ignore[union-attr]
    node.at(2.0, lambda: node.pods.__setitem__(0, status("web-b")))  # type: ignore[union-attr]
    node.at(3.0, lambda: node.routed.append(NEW_KEY))
    outcome = wait(spec, "node1", node.look())
    assert outcome.ok and 3.0 <= outcome.waited < 3.5


def test_a_pod_planned_elsewhere_is_only_looked_for_in_routing() -> None:
    node = FakeNode()
    spec = WaitSpec(ready=(NEW,), routed=(NEW_KEY,), routing_nodes=NODES, timeout=30)
    assert not_yet(spec, "node2", [], "", {"ready_endpoints": []}) == [
        f"{NEW_KEY}: not yet routed on node2"
    ]
    node.routed.append(NEW_KEY)
    assert wait(spec, "node2", node.look()).ok
    # a node whose routing does not count (NotReady) only checks its own pods
    assert not_yet(spec, "node3", [], "", None) == []


def test_drain_waits_until_this_node_routes_the_old_endpoint_no_more_then_settles() -> None:
    node = FakeNode()
    node.routed = [OLD_KEY, NEW_KEY]
    spec = WaitSpec(unrouted=(OLD_KEY,), routing_nodes=NODES, settle=1.0)
    node.at(2.0, lambda: node.routed.remove(OLD_KEY))
    outcome = wait(spec, "node2", node.look())
    assert outcome.ok and outcome.warnings == []
    assert node.slept[-1] == 1.0 and outcome.waited >= 3.0  # drained at 2 s, then settled


def test_a_drain_that_times_out_warns_and_goes_on() -> None:
    node = FakeNode()
    node.routed = [OLD_KEY]
    spec = WaitSpec(unrouted=(OLD_KEY,), routing_nodes=NODES, drain_timeout=5, settle=1)
    outcome = wait(spec, "node1", node.look())
    assert outcome.ok
    assert outcome.warnings == [
        f"routing on node1 still lists {OLD_KEY} after 5 s; removing the pods anyway"
    ]


def test_recreate_waits_until_the_agent_no_longer_reports_the_old_pods() -> None:
    node = FakeNode()
    node.pods = [status("web-a", ready=False, reason="Terminating")]
    spec = WaitSpec(stopped=("default/web-a",), timeout=60)
    node.at(4.0, lambda: node.pods.clear())  # type: ignore[union-attr]
    outcome = wait(spec, "node2", node.look())
    assert outcome.ok and outcome.waited >= 4.0


def test_an_agent_that_does_not_answer_is_not_taken_for_stopped_pods() -> None:
    node = FakeNode()
    node.pods = None
    spec = WaitSpec(stopped=("default/web-a",), timeout=2)
    outcome = wait(spec, "node2", node.look())
    assert not outcome.ok
    assert "the agent on node2 does not answer (connection refused)" in outcome.msg


def test_a_pod_that_cannot_start_fails_the_step_naming_why() -> None:
    node = FakeNode()
    broken = {"name": "web", "state": "waiting", "reason": "StartError",
              "message": 'exec: "x": not found'}  # fmt: skip
    node.pods = [status("web-b", ready=False, phase="Pending", containers=[broken])]
    spec = WaitSpec(ready=(NEW,), timeout=8)
    outcome = wait(spec, "node1", node.look())
    assert not outcome.ok
    assert outcome.msg.startswith("not available after 8 s on node1: default/web-b on node1: ")
    assert 'StartError: exec: "x": not found' in outcome.msg
    assert node.now >= 8


def test_a_pod_with_another_ip_is_not_the_planned_one() -> None:
    spec = WaitSpec(ready=(NEW,))
    left = not_yet(spec, "node1", [status("web-b", ip="10.244.1.9")], "", None)
    assert left == ["default/web-b on node1: has IP 10.244.1.9, planned 10.244.1.7"]


def test_the_wait_document_round_trips_and_refuses_unknown_fields() -> None:
    spec = WaitSpec(ready=(NEW,), routed=(NEW_KEY,), unrouted=(OLD_KEY,),
                    stopped=("default/web-a",), routing_nodes=NODES, timeout=12.5)  # fmt: skip
    assert WaitSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    with pytest.raises(ContractError, match="rollout wait: unknown field readdy"):
        WaitSpec.from_json({"readdy": []})
    with pytest.raises(ContractError, match=r"rollout wait.timeout: a number of seconds"):
        WaitSpec.from_json({"timeout": -1})
    with pytest.raises(ContractError, match=r"ready\[0\]: expected \{namespace, name"):
        WaitSpec.from_json({"ready": [{"name": "x"}]})


def manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "podplay/v1", "kind": "Pod", "name": name, "namespace": "default",
        "uid": "2b1f4c7e-0000-4000-8000-000000000001", "labels": {"app": "web"},
        "owner": {"kind": "Deployment", "name": "web"}, "template_hash": "5d9c8f7b6a",
        "ip": "10.244.1.7", "hostname": name, "restart_policy": "Always",
        "termination_grace_period": 30,
        "dns": {"nameservers": ["10.96.0.10"], "searches": [], "options": []},
        "containers": [{"name": "web", "image": "busybox:1", "image_id": None, "command": None,
                        "args": None, "env": {}, "ports": [], "resources": None,
                        "readiness": None, "liveness": None, "startup": None}],
    }  # fmt: skip


def test_step_writes_the_pods_then_waits_and_check_mode_does_neither(tmp_path: Path) -> None:
    node = FakeNode()
    node.pods = [status("web-b")]
    node.routed = [NEW_KEY]
    pods_dir = tmp_path / "pods"
    desired = {
        "node": "node1",
        "pods": {"pods": [manifest("web-b")], "path": str(pods_dir)},
        "wait": WaitSpec(ready=(NEW,), routed=(NEW_KEY,), routing_nodes=NODES).to_json(),
    }
    checked = cli.step(desired, check=True, diff=True, look=node.look())
    assert checked["changed"] and not pods_dir.exists() and checked["waited"] == 0.0
    assert checked["diff"][0]["after"].startswith("default_web-b.json")
    done = cli.step(desired, check=False, diff=False, look=node.look())
    assert done["changed"] and done["pods"]["written"] == ["default_web-b.json"]
    assert sorted(p.name for p in pods_dir.iterdir()) == ["default_web-b.json"]
    again = cli.step(desired, check=False, diff=False, look=node.look())
    assert not again["changed"] and "failed" not in again


def test_step_fails_when_the_wait_times_out(tmp_path: Path) -> None:
    node = FakeNode()
    desired = {"node": "node1", "wait": WaitSpec(ready=(NEW,), timeout=1).to_json()}
    result = cli.step(desired, check=False, diff=False, look=node.look())
    assert result["failed"] and "not reported by the agent yet" in result["msg"]
    with pytest.raises(ContractError, match="node: a non-empty string is required"):
        cli.step({"wait": None}, check=False, diff=False, look=node.look())


def test_then_drains_the_next_step_once_this_nodes_wait_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`then`: cluster.json without the old endpoint, written only after the new pod is
    ready and routed here, then the drain's own wait (unrouted, then the settle)."""
    node = FakeNode()
    node.routed = [OLD_KEY]
    node.at(2.0, lambda: node.pods.append(status("web-b")))  # type: ignore[union-attr]
    node.at(2.0, lambda: node.routed.append(NEW_KEY))
    written: list[tuple[float, Any]] = []

    def apply_proxy(desired: Any, bundle: str, check: bool, diff: bool) -> dict[str, Any]:
        written.append((node.now, desired))
        node.at(node.now + 0.5, lambda: node.routed.remove(OLD_KEY))
        return {"changed": True}

    monkeypatch.setattr(cli, "apply_proxy", apply_proxy)
    drain = WaitSpec(unrouted=(OLD_KEY,), routing_nodes=NODES, settle=1.0)
    desired = {
        "node": "node1",
        "wait": WaitSpec(ready=(NEW,), routed=(NEW_KEY,), routing_nodes=NODES).to_json(),
        "then": {"proxy": {"state": "drained"}, "wait": drain.to_json()},
    }
    assert cli.step(desired, check=True, diff=False, look=node.look())["waited"] == 0.0
    assert written == []  # check mode: no wait, no drain
    done = cli.step(desired, check=False, diff=False, look=node.look())
    assert [(round(t, 1), d) for t, d in written] == [(2.0, {"state": "drained"})]
    assert done["changed"] and "failed" not in done
    assert done["waited"] == pytest.approx(3.5, abs=0.15)  # 2 s ready, 0.5 s unrouted, 1 s


@pytest.mark.parametrize(("ready_at", "took"), [(2.0, 2.0), (0.7, 1.5)])
def test_the_settle_runs_while_new_pods_start(ready_at: float, took: float) -> None:
    """The old endpoint leaves routing at 0.5 s; the step returns once the new pod is
    ready and routed AND a settle has passed since then, whichever comes last."""
    node = FakeNode()
    node.routed = [OLD_KEY]
    node.at(0.5, lambda: node.routed.remove(OLD_KEY))
    node.at(ready_at, lambda: node.pods.append(status("web-b")))  # type: ignore[union-attr]
    node.at(ready_at, lambda: node.routed.append(NEW_KEY))
    spec = WaitSpec(
        unrouted=(OLD_KEY,), ready=(NEW,), routed=(NEW_KEY,), routing_nodes=NODES, settle=1.0
    )
    outcome = wait(spec, "node1", node.look())
    assert outcome.ok and outcome.unrouted_at == pytest.approx(0.5, abs=0.11)
    assert outcome.waited == pytest.approx(took, abs=0.11)
    assert node.now - outcome.unrouted_at >= 1.0


def test_a_step_with_then_settles_once_for_both_drains(monkeypatch: pytest.MonkeyPatch) -> None:
    """Old pod k leaves routing (0.5 s) while the new pod starts (ready at 1 s); then the
    last old pod's drain (unrouted 0.5 s after its write) and ONE settle, which also covers
    old pod k: both have been out of routing >= 1 s when the step returns."""
    last = "default/web-z@10.244.2.9"
    node = FakeNode()
    node.routed = [OLD_KEY, last]
    node.at(0.5, lambda: node.routed.remove(OLD_KEY))
    node.at(1.0, lambda: node.pods.append(status("web-b")))  # type: ignore[union-attr]
    node.at(1.0, lambda: node.routed.append(NEW_KEY))
    gone: dict[str, float] = {}

    def apply_proxy(desired: Any, bundle: str, check: bool, diff: bool) -> dict[str, Any]:
        node.at(node.now + 0.5, lambda: (node.routed.remove(last), gone.update(last=node.now)))
        return {"changed": True}

    monkeypatch.setattr(cli, "apply_proxy", apply_proxy)
    first = WaitSpec(
        unrouted=(OLD_KEY,), ready=(NEW,), routed=(NEW_KEY,), routing_nodes=NODES, settle=1.0
    )
    drain = WaitSpec(unrouted=(last,), routing_nodes=NODES, settle=1.0)
    desired = {
        "node": "node1",
        "wait": first.to_json(),
        "then": {"proxy": {"state": "drained"}, "wait": drain.to_json()},
    }
    done = cli.step(desired, check=False, diff=False, look=node.look())
    assert "failed" not in done
    assert done["waited"] == pytest.approx(2.5, abs=0.25)  # not 3.5: one settle, not two
    assert node.now - gone["last"] >= 1.0 and node.now - 0.5 >= 1.0
