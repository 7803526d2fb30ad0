"""The failover benchmark's judgement, without clusters: when podplay counts as recovered
(3 pods ready on the survivors AND routed by every survivor's proxy), how Swarm's task list
is read, and the table it prints."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import pytest
from bench_modules import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_failover")


def pod(name: str, node: str, ip: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "node": node, "ip": ip,
            "phase": "Running", "ready": True, "reason": None, **fields}  # fmt: skip


PODS = [
    pod("web-a", "node1", "10.244.1.2"),
    pod("web-b", "node1", "10.244.1.3"),
    pod("web-c", "node3", "10.244.3.2"),
    pod("other-x", "node3", "10.244.3.3"),
]
KEYS = ["default/web-a@10.244.1.2", "default/web-b@10.244.1.3", "default/web-c@10.244.3.2"]


def test_recovered_needs_three_ready_pods_on_the_survivors_routed_everywhere(bench) -> None:
    survivors = ["node1", "node3"]
    routed = {n: {"ready_endpoints": KEYS} for n in survivors}
    assert bench.recovered(PODS, routed, survivors)
    # one survivor's proxy does not route one of them yet
    assert not bench.recovered(PODS, {**routed, "node3": {"ready_endpoints": KEYS[:2]}}, survivors)
    assert not bench.recovered(PODS, {**routed, "node3": None}, survivors)  # status unreadable
    # a pod not ready, terminating, or not running: two is not three
    for change in ({"ready": False}, {"reason": "Terminating"}, {"phase": "Pending"}):
        pods = [*PODS[:2], {**PODS[2], **change}, PODS[3]]
        assert not bench.recovered(pods, routed, survivors)
    # a pod on the stopped node does not count, whatever is reported for it
    assert not bench.recovered([*PODS[:2], {**PODS[2], "node": "node2"}], routed, survivors)


def test_swarm_tasks_are_read_from_service_ps(bench) -> None:
    swarm = sys.modules["failover_swarm"]  # imported by the benchmark, from beside it
    text = (
        "swarm1|Running|Running 3 seconds ago\n"
        "swarm2|Running|Running 10 minutes ago\n"
        "swarm3|Shutdown|Running 12 minutes ago\n"
        "swarm3|Running|Starting 1 second ago\n"
        "garbage line\n"
    )
    tasks = swarm.parse_service_ps(text)
    assert tasks == [
        ("swarm1", "Running", "Running"),
        ("swarm2", "Running", "Running"),
        ("swarm3", "Shutdown", "Running"),
        ("swarm3", "Running", "Starting"),
    ]
    assert swarm.running_tasks(tasks, ["swarm1", "swarm2", "swarm3"]) == 2
    assert swarm.running_tasks(tasks, ["swarm1", "swarm3"]) == 1


def test_the_table_prints_figures_ratio_memory_and_targets(bench) -> None:
    results = {"podplay": [6.0, 5.0, 7.5], "leader": [9.0, 11.0, 10.0], "swarm": [16.0, 17.0]}
    text = bench.report(
        results,
        ["a note"],
        {"node1": (30.0, 22.0), "node2": (0.0, 0.0)},
        [("at start", (1.0, 2.0, 3.0))],
    )
    lines = text.splitlines()
    assert lines[1].split()[-6:] == ["5.0", "6.0", "median", "<=", "10", "s"]
    assert lines[2].split()[-6:] == ["9.0", "10.0", "median", "<=", "15", "s"]
    assert lines[3].split()[-2:] == ["16.0", "16.5"]
    assert "ratio podplay/Swarm (medians)" in lines[4] and "0.36" in lines[4]
    assert "52   < 80 MB (30 + 22)" in lines[5]
    assert lines[-2] == "load average at start: 1.00 2.00 3.00" and lines[-1] == "note: a note"
    empty = bench.report({"podplay": [], "leader": [], "swarm": [16.0]}, [], {}, [])
    assert "ratio" not in empty and empty.splitlines()[1].split()[-6:-4] == ["-", "-"]
