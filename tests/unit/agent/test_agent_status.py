"""Pod status from manifests + containers seen + readiness (pure)."""

from __future__ import annotations

from agent_builders import obs, spec

from podplay.node.agent.manifest import InvalidPod
from podplay.node.agent.status import invalid_status, node_pods, pod_status, terminating_status
from podplay.node.contract.pod_status import PodStatus, why_not_ready

WEB = spec()
NEVER = spec(name="job", restart_policy="Never")


def ready(_o) -> bool:
    return True


def unready(_o) -> bool:
    return False


def test_running_and_ready() -> None:
    s = pod_status(WEB, [obs(WEB, "POD"), obs(WEB, "web")], ready, {})
    assert (s["phase"], s["ready"], s["ip"]) == ("Running", True, "10.244.1.5")
    c = s["containers"][0]
    assert (c["state"], c["ready"], c["restart_count"], c["container_id"]) == (
        "running",
        True,
        0,
        "web-1-web-0",
    )
    assert s["started_at"] == "1970-01-01T00:01:40Z"
    assert s["labels"] == {"app": "web"} and s["template_hash"] == "t1"


def test_running_but_readiness_failing() -> None:
    s = pod_status(WEB, [obs(WEB, "POD"), obs(WEB, "web")], unready, {})
    assert s["phase"] == "Running" and not s["ready"] and not s["containers"][0]["ready"]


def test_nothing_yet_is_pending_and_creating() -> None:
    s = pod_status(WEB, [], ready, {})
    assert s["phase"] == "Pending" and not s["ready"]
    assert s["containers"][0]["reason"] == "ContainerCreating"


def test_failed_action_shows_its_reason() -> None:
    s = pod_status(WEB, [], ready, {}, error=("CreateContainerError", "no such network"))
    assert s["reason"] == "CreateContainerError"
    assert s["containers"][0]["reason"] == "CreateContainerError"


def test_crash_loop_waiting_with_last_termination() -> None:
    seen = [
        obs(WEB, "POD"),
        obs(WEB, "web", 0, "exited"),
        obs(WEB, "web", 1, "exited", exit_code=2),
    ]
    waiting = {
        (WEB.key, "web"): ("CrashLoopBackOff", "back-off 10s restarting failed container web")
    }
    s = pod_status(WEB, seen, ready, waiting)
    c = s["containers"][0]
    assert s["phase"] == "Running" and not s["ready"]
    assert (c["state"], c["reason"], c["restart_count"]) == ("waiting", "CrashLoopBackOff", 1)
    assert c["last_termination"]["exit_code"] == 2 and c["last_termination"]["reason"] == "Error"


def test_restarted_container_reports_the_previous_termination() -> None:
    seen = [obs(WEB, "POD"), obs(WEB, "web", 0, "exited", exit_code=137), obs(WEB, "web", 1)]
    c = pod_status(WEB, seen, ready, {})["containers"][0]
    assert c["state"] == "running" and c["restart_count"] == 1
    assert c["last_termination"]["exit_code"] == 137


def test_never_policy_exit_1_is_failed_exit_0_succeeded() -> None:
    failed = pod_status(NEVER, [obs(NEVER, "web", 0, "exited", exit_code=1)], ready, {})
    assert failed["phase"] == "Failed"
    assert failed["containers"][0]["state"] == "terminated"
    assert failed["containers"][0]["exit_code"] == 1
    ok = pod_status(NEVER, [obs(NEVER, "web", 0, "exited", exit_code=0)], ready, {})
    assert ok["phase"] == "Succeeded" and ok["containers"][0]["reason"] == "Completed"


def test_pod_being_restarted_keeps_counting() -> None:
    # node rebooted: sandbox and app exited; the agent is starting it afresh
    seen = [obs(WEB, "POD", 0, "exited"), obs(WEB, "web", 3, "exited")]
    s = pod_status(WEB, seen, ready, {}, busy=True)
    c = s["containers"][0]
    assert (
        s["phase"] == "Pending" and c["restart_count"] == 4 and c["reason"] == "ContainerCreating"
    )


def test_invalid_manifest_is_failed_with_its_sentence() -> None:
    s = invalid_status(InvalidPod("default", "bad", "InvalidManifest", "bad.json: not JSON"))
    assert (s["phase"], s["reason"], s["message"], s["ready"]) == (
        "Failed",
        "InvalidManifest",
        "bad.json: not JSON",
        False,
    )


def test_terminating_pod() -> None:
    s = terminating_status(WEB.key, [obs(WEB, "POD"), obs(WEB, "web")])
    assert s["reason"] == "Terminating" and not s["ready"] and s["phase"] == "Running"
    assert [c["name"] for c in s["containers"]] == ["web"]


def test_same_input_same_status() -> None:
    seen = [obs(WEB, "POD"), obs(WEB, "web")]
    assert pod_status(WEB, seen, ready, {}) == pod_status(WEB, list(seen), ready, {})


def test_every_status_the_agent_writes_reads_back_through_the_contract() -> None:
    """The agent is the writer of `podplay.node.contract.pod_status`: what it reports in
    every state reads back through the readers' parser unchanged (no field it does not
    know, none of another type), so `up`'s wait and `rollout step` see what it meant."""
    crashing = [obs(WEB, "POD"), obs(WEB, "web", 0, "exited"),
                obs(WEB, "web", 1, "exited", exit_code=2)]  # fmt: skip
    back_off = {(WEB.key, "web"): ("CrashLoopBackOff", "back-off 10s restarting")}
    written = [
        pod_status(WEB, [obs(WEB, "POD"), obs(WEB, "web")], ready, {}),
        pod_status(WEB, [], ready, {}, error=("CreateContainerError", "no such network")),
        pod_status(WEB, crashing, ready, back_off),
        pod_status(NEVER, [obs(NEVER, "web", 0, "exited", exit_code=1)], ready, {}),
        invalid_status(InvalidPod("default", "bad", "InvalidManifest", "bad.json: not JSON")),
        terminating_status(WEB.key, [obs(WEB, "POD"), obs(WEB, "web")]),
        *node_pods({WEB.key: WEB}, {}, [obs(WEB, "POD")], ready, {}, {}, set(), "no engine"),
    ]
    for doc in written:
        assert PodStatus.from_json(doc).to_json() == doc
    reasons = [why_not_ready(PodStatus.from_json(d), "10.244.1.5") for d in written]
    assert reasons[0] is None and all(r for r in reasons[1:])
    assert reasons[2] == "CrashLoopBackOff (last exit code 2): back-off 10s restarting"
