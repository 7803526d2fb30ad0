"""Probe bookkeeping on a fake clock: which containers are probed, when, and what results
mean; probe runs are captured instead of executed."""

from __future__ import annotations

from dataclasses import replace

from agent_builders import manifest, obs, spec

from podplay.node.agent.board import EventLog
from podplay.node.agent.messages import ProbeResult
from podplay.node.agent.probing import Probing

TCP = {"type": "tcp", "port": 8080, "period": 5, "failure_threshold": 2}


def probed(**probes: object):
    doc = manifest()
    doc["containers"][0].update({"readiness": None, **probes})
    return spec(containers=doc["containers"])


class Pool:
    """Records the probe runs handed to it; runs nothing."""

    def __init__(self) -> None:
        self.runs: list[tuple] = []

    def submit(self, fn, *args):
        self.runs.append(args)

    def shutdown(self, wait=True):
        pass


def probing(t: list[float], hints: dict | None = None) -> tuple[Probing, Pool, EventLog]:
    events = EventLog()
    p = Probing(None, events, lambda msg: None, lambda: t[0], hints)
    pool = Pool()
    p.pool = pool  # type: ignore[assignment]
    return p, pool, events


def test_running_app_containers_of_wanted_pods_are_probed() -> None:
    pod = probed(readiness=TCP)
    seen = [obs(pod, "POD"), obs(pod, "web"), obs(pod, "web", 1, "exited", id="old")]
    p, pool, _ = probing([100.0])
    p.sync({pod.key: pod}, seen, 100.0)
    assert list(p.probes) == ["web-1-web-0"]  # not the sandbox, not an exited attempt
    p.schedule(100.0)
    assert [(cid, kind, ip) for cid, kind, _, ip in pool.runs] == [
        ("web-1-web-0", "readiness", "10.244.1.5")
    ]
    p.schedule(101.0)
    assert len(pool.runs) == 1  # in flight: not again
    p.sync({}, seen, 102.0)  # the pod is no longer wanted
    assert p.probes == {} and p.next_due() is None


def test_a_result_changes_readiness_and_a_stale_one_is_ignored() -> None:
    pod = probed(readiness=TCP)
    seen = [obs(pod, "POD"), obs(pod, "web")]
    t = [100.0]
    p, pool, _ = probing(t)
    p.sync({pod.key: pod}, seen, t[0])
    p.schedule(t[0])
    cid, kind, probe_spec, _ = pool.runs[0]
    assert not p.ready_of(seen[1])
    assert p.record(ProbeResult(cid, kind, probe_spec, True, "connected"), seen)
    assert p.ready_of(seen[1]) and p.readiness() == {cid: True}
    assert not p.record(ProbeResult(cid, kind, probe_spec, True, "connected"), seen)
    other = replace(probe_spec, port=9090)  # the probe changed since this run started
    assert not p.record(ProbeResult(cid, kind, other, False, "refused"), seen)
    assert not p.record(ProbeResult("gone", kind, probe_spec, False, "refused"), seen)
    assert p.ready_of(seen[1])
    assert p.next_due() == 105.0


def test_failed_liveness_warns_once_then_asks_for_a_kill() -> None:
    pod = probed(liveness=TCP)
    seen = [obs(pod, "POD"), obs(pod, "web")]
    t = [100.0]
    p, pool, events = probing(t)
    p.sync({pod.key: pod}, seen, t[0])
    p.schedule(t[0])
    cid, kind, probe_spec, _ = pool.runs[0]
    p.record(ProbeResult(cid, kind, probe_spec, False, "refused"), seen)
    assert p.kill_reasons() == {}  # threshold 2
    t[0] = 105.0
    p.schedule(t[0])
    assert p.record(ProbeResult(cid, kind, probe_spec, False, "refused"), seen)
    assert p.kill_reasons() == {cid: "liveness probe failed: refused"}
    warnings = [e["message"] for e in events.list() if e["reason"] == "Unhealthy"]
    assert warnings == [
        "liveness probe of web failed: refused",  # the first failure
        "liveness probe of web failed: refused",  # the failure that changed the result
    ]


def test_remembered_readiness_is_used_once_for_an_adopted_container() -> None:
    pod = probed(readiness=TCP)
    seen = [obs(pod, "POD"), obs(pod, "web")]
    p, _, _ = probing([100.0], hints={"web-1-web-0": True})
    p.sync({pod.key: pod}, seen, 100.0)
    assert p.ready_of(seen[1])  # no flap while the agent restarts
    p.sync({}, seen, 101.0)
    p.sync({pod.key: pod}, seen, 102.0)
    assert not p.ready_of(seen[1])  # the hint was for the adoption only
