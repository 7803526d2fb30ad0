"""Progress towards a plan: pods ready where planned, routed on every node (pure)."""

from __future__ import annotations

from control_builders import shop_plan, status

from podplay.control.progress import progress
from podplay.node.contract.pod_status import PodStatus, why_not_ready
from podplay.node.contract.proxy_status import still_routed
from podplay.plan import stages
from podplay.plan.rollout import endpoint_key, routed_pods


def _proxies(plan, routed):  # every node routes exactly `routed` (endpoint keys)
    return {n.name: {"ready_endpoints": sorted(routed)} for n in plan.nodes}


def _all_endpoints(plan):
    return {endpoint_key(p.namespace, p.name, p.ip) for p in plan.pods}


def test_everything_ready_and_routed_is_available() -> None:
    plan = shop_plan()
    rows = progress(plan, [status(p) for p in plan.pods], _proxies(plan, _all_endpoints(plan)))
    assert {(r.name, r.desired, r.ready, r.routed) for r in rows} == {
        ("backend", 2, 2, 2),
        ("web", 3, 3, 3),
    }
    assert all(r.available for r in rows)


def test_ready_but_not_routed_everywhere_is_not_available() -> None:
    plan = shop_plan()
    web = [p for p in plan.pods if p.deployment == "web"]
    routed = _all_endpoints(plan)
    proxies = _proxies(plan, routed)
    late = endpoint_key(web[0].namespace, web[0].name, web[0].ip)
    proxies["node3"] = {"ready_endpoints": sorted(routed - {late})}
    rows = {r.name: r for r in progress(plan, [status(p) for p in plan.pods], proxies)}
    assert (rows["web"].ready, rows["web"].routed) == (3, 2)
    assert not rows["web"].available
    assert "not yet routed" in rows["web"].waiting[0]


def test_unreadable_proxy_status_counts_as_not_routed() -> None:
    plan = shop_plan()
    proxies = _proxies(plan, _all_endpoints(plan))
    proxies["node2"] = None
    rows = progress(plan, [status(p) for p in plan.pods], proxies)
    assert not any(r.available for r in rows)


def test_routing_ignored_when_not_asked() -> None:
    plan = shop_plan()
    rows = progress(plan, [status(p) for p in plan.pods], None)
    assert all(r.available for r in rows)


def shown(plan, pod, reported) -> str:
    """What `up` shows for `pod` while it waits (the row's reason, the pod named in front)."""
    rows = progress(plan, [reported], None, only={(pod.namespace, pod.name)})
    return rows[0].waiting[0]


def test_pod_on_wrong_node_or_ip_is_not_ready() -> None:
    plan = shop_plan()
    pod = plan.pods[0]
    moved = {**status(pod), "node": "elsewhere"}
    assert "not reported" in why_not_ready(None, pod.ip)
    rows = progress(plan, [moved] + [status(p) for p in plan.pods[1:]], None)
    assert sum(r.ready for r in rows) == len(plan.pods) - 1
    assert "has IP 10.9.9.9" in shown(plan, pod, status(pod, ip="10.9.9.9"))


def test_waiting_reason_names_the_container_state() -> None:
    plan = shop_plan()
    pod = plan.pods[0]
    crashing = {
        **status(pod, ready=False),
        "containers": [
            {
                "name": "backend",
                "state": "waiting",
                "reason": "CrashLoopBackOff",
                "last_termination": {"exit_code": 3},
            }
        ],
    }
    assert shown(plan, pod, crashing).endswith("CrashLoopBackOff (last exit code 3)")
    engine_said = (
        "starting pp_default_backend_0: failed to create shim task: OCI runtime create failed: "
        'runc create failed: unable to start container process: exec: "httpdx": executable '
        "file not found in $PATH: unknown"
    )
    not_started = {
        **status(pod, ready=False, phase="Pending"),
        "containers": [
            {"name": "backend", "state": "waiting", "reason": "StartError", "message": engine_said}
        ],
    }
    reason = shown(plan, pod, not_started)
    assert ": StartError: ..." in reason
    assert reason.endswith('exec: "httpdx": executable file not found in $PATH: unknown')
    assert "Running, not ready" in shown(plan, pod, status(pod, ready=False))
    assert "Pending" in shown(plan, pod, status(pod, ready=False, phase="Pending"))
    assert why_not_ready(PodStatus.from_json(status(pod)), pod.ip) is None


def test_only_counts_the_named_pods() -> None:
    plan = shop_plan()
    first = plan.pods[0]
    rows = progress(plan, [], None, only={(first.namespace, first.name)})
    assert [(r.name, r.desired, r.ready) for r in rows] == [(first.deployment, 1, 0)]


def test_a_rollout_stage_counts_the_pods_it_holds() -> None:
    old = shop_plan()
    new = shop_plan(old, image="busybox:2")
    middle = stages(old, new)[1]  # one new web pod beside the three old ones
    rows = {r.name: r for r in progress(middle, [status(p) for p in middle.pods], None)}
    assert rows["web"].desired == 4
    assert rows["web"].available


def test_external_name_and_selectorless_pods_need_no_routing() -> None:
    plan = shop_plan()
    assert routed_pods(plan) == {(p.namespace, p.name) for p in plan.pods}


def test_still_routed_lists_nodes_that_have_not_dropped_an_endpoint() -> None:
    gone = {"default/web-a@10.244.1.5"}
    proxies = {
        "node1": {"ready_endpoints": ["default/web-a@10.244.1.5", "default/web-b@10.244.2.5"]},
        "node2": {"ready_endpoints": ["default/web-b@10.244.2.5"]},
        "node3": None,
    }
    left = still_routed(gone, ["node1", "node2", "node3"], proxies)
    assert left == {"node1": sorted(gone), "node3": sorted(gone)}
    proxies["node1"] = proxies["node3"] = {"ready_endpoints": []}
    assert still_routed(gone, ["node1", "node2", "node3"], proxies) == {}
