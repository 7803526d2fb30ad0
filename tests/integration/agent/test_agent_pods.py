"""The agent on a real node: pods as containers, restarts with backoff, probes, removal,
bad manifests, and its API, all seen the way the controller sees them (HTTP, token).

All test pods are written at once (module fixture) so they start together; each test then
pokes at its own pod. Short probe periods and grace periods keep every test to seconds.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from agent_helpers import (
    NAMESPACE,
    SLEEPER,
    client_for,
    container,
    containers_of,
    cstatus,
    docker,
    pod,
    pod_manifest,
    remove_pod,
    running_ready,
    wait_pod,
    write_file,
    write_pod,
)
from helpers import node_exec, wait_until

from podplay.control.agent_client import AgentClient, ClusterAccess
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

NODE = "node1"


def ip(cluster: Cluster, host: int) -> str:
    """An address high in node1's pod CIDR (the planner hands out low ones)."""
    prefix = cluster.node(NODE).pod_cidr.rsplit(".", 1)[0]
    return f"{prefix}.{host}"


def exec_probe(cmd: str, **kw: Any) -> dict[str, Any]:
    return {"type": "exec", "command": ["sh", "-c", cmd], "period": 1, "timeout": 1,
            "failure_threshold": 2, "success_threshold": 1, "initial_delay": 0, **kw}  # fmt: skip


def manifests(cluster: Cluster, image: str) -> dict[str, dict[str, Any]]:
    web = "echo hello from $(hostname) > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"
    return {
        "duo": pod_manifest("duo", ip(cluster, 201), [
            container("web", image, web, readiness={
                "type": "http", "path": "/", "port": 8080, "period": 1, "timeout": 1,
                "failure_threshold": 3, "success_threshold": 1, "initial_delay": 0}),
            container("side", image, SLEEPER),
        ]),
        "victim": pod_manifest("victim", ip(cluster, 202), [container("app", image, SLEEPER)]),
        "crasher": pod_manifest("crasher", ip(cluster, 203), [
            container("app", image, "echo crashing; sleep 0.3; exit 3")]),
        "live": pod_manifest("live", ip(cluster, 204), [
            container("app", image, "touch /tmp/alive; " + SLEEPER,
                      liveness=exec_probe("test -f /tmp/alive"))]),
        "ready": pod_manifest("ready", ip(cluster, 205), [
            container("app", image, "touch /tmp/ready; " + SLEEPER,
                      readiness=exec_probe("test -f /tmp/ready"))]),
        "gone": pod_manifest("gone", ip(cluster, 206), [
            container("app", image, SLEEPER),
            container("stubborn", image, "trap '' TERM; while :; do sleep 1; done")],
            grace=2),
        "once": pod_manifest("once", ip(cluster, 207), [
            container("app", image, "echo done; exit 0")], restart_policy="OnFailure"),
    }  # fmt: skip


BAD = {
    # file name -> (content, expected reason)
    f"{NAMESPACE}_badjson.json": ("{this is not json", "InvalidManifest"),
    f"{NAMESPACE}_nocontainers.json": (None, "InvalidManifest"),
    f"{NAMESPACE}_noimage.json": (None, "ImageNotPresent"),
    f"{NAMESPACE}_outside.json": (None, "IPOutsidePodCIDR"),
    f"{NAMESPACE}_badshape.json": (None, "InvalidManifest"),  # a field of the wrong shape
}


@pytest.fixture(scope="module")
def agent(access: ClusterAccess) -> AgentClient:
    return client_for(access, NODE)


@pytest.fixture(scope="module")
def pods(cluster: Cluster, busybox_on_nodes, agent: AgentClient):  # type: ignore[no-untyped-def]
    """Every test pod (and the bad manifests) on node1; removed at the end."""
    image = busybox_on_nodes.ref
    wanted = manifests(cluster, image)
    for m in wanted.values():
        write_pod(cluster, NODE, m)
    bad = dict(BAD)
    nocont = pod_manifest("nocontainers", ip(cluster, 210), [])
    del nocont["containers"]
    noimage = pod_manifest(
        "noimage", ip(cluster, 211), [container("app", "podplay/absent:1", "true")]
    )
    outside = pod_manifest("outside", "10.244.250.9", [container("app", image, SLEEPER)])
    badshape = pod_manifest("badshape", ip(cluster, 212), [container("app", image, SLEEPER)])
    badshape["containers"][0]["ports"] = 8080  # not a list
    contents = {
        f"{NAMESPACE}_badshape.json": json.dumps(badshape),
        f"{NAMESPACE}_nocontainers.json": json.dumps(nocont),
        f"{NAMESPACE}_noimage.json": json.dumps(noimage),
        f"{NAMESPACE}_outside.json": json.dumps(outside),
    }
    for fname, (text, _) in bad.items():
        write_file(cluster, NODE, fname, text if text is not None else contents[fname])
    for name in ("duo", "victim", "live", "ready", "gone"):
        wait_pod(agent, name, running_ready, what="Running and Ready")
    yield wanted
    for name in wanted:
        remove_pod(cluster, NODE, name)
    for fname in BAD:
        node_exec(cluster, NODE, f"rm -f /etc/podplay/pods/{fname}")
    for name in wanted:
        wait_pod_gone(cluster, name)


def wait_pod_gone(cluster: Cluster, name: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while containers_of(cluster, NODE, name):
        assert time.monotonic() < deadline, f"containers of {name} still there"
        time.sleep(0.3)


def test_two_containers_of_a_pod_talk_over_localhost(cluster: Cluster, pods, agent) -> None:
    p = wait_pod(agent, "duo", running_ready)
    side = cstatus(p, "side")["container_id"]
    request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc localhost 8080"
    out = docker(cluster, NODE, "exec", side, "sh", "-c", request)
    assert "200 OK" in out
    assert "hello from duo" in out  # the web container's hostname is the pod name too


def test_hostname_ip_and_dns_are_the_pods(cluster: Cluster, pods, agent) -> None:
    p = wait_pod(agent, "duo", running_ready)
    for c in p["containers"]:
        cid = c["container_id"]
        assert docker(cluster, NODE, "exec", cid, "hostname") == "duo"
        addrs = docker(cluster, NODE, "exec", cid, "ip", "-4", "-o", "addr", "show", "eth0")
        assert f"inet {p['ip']}/" in addrs
        resolv = docker(cluster, NODE, "exec", cid, "cat", "/etc/resolv.conf")
        assert "nameserver 10.96.0.10" in resolv
        assert f"search {NAMESPACE}.svc.cluster.local svc.cluster.local" in resolv
        assert "options ndots:5" in resolv
        hosts = docker(cluster, NODE, "exec", cid, "cat", "/etc/hosts")
        assert f"{p['ip']}\tduo" in hosts.splitlines()
        route = docker(cluster, NODE, "exec", cid, "ip", "-4", "route", "show", "default")
        assert route.startswith("default via ") and "dev eth0" in route
    env = docker(cluster, NODE, "exec", cstatus(p, "side")["container_id"], "env")
    assert "POD_CONTAINER=side" in env


def test_containers_carry_labels_limits_and_no_docker_restart_policy(cluster, pods, agent) -> None:
    p = wait_pod(agent, "duo", running_ready)
    cid = cstatus(p, "web")["container_id"]
    info = json.loads(docker(cluster, NODE, "inspect", cid))[0]
    labels = info["Config"]["Labels"]
    assert labels["io.podplay.pod"] == "duo"
    assert labels["io.podplay.namespace"] == NAMESPACE
    assert labels["io.podplay.container"] == "web"
    assert labels["io.podplay.uid"] == "agenttest-duo-1"
    hc = info["HostConfig"]
    assert hc["RestartPolicy"]["Name"] in ("", "no")
    assert hc["NanoCpus"] == 100 * 1_000_000
    assert hc["Memory"] == 32 * 1024 * 1024
    sandbox = [c for c in containers_of(cluster, NODE, "duo") if c["container"] == "POD"]
    assert len(sandbox) == 1
    assert hc["NetworkMode"] == f"container:{sandbox[0]['id']}"


def test_every_container_of_a_pod_runs_under_crun(cluster: Cluster, pods, agent) -> None:
    """The runtime role registered crun with the engine and the agent asks for it; runc, the
    engine's default, still runs whatever else the node runs."""
    p = wait_pod(agent, "duo", running_ready)
    ids = [c["id"] for c in containers_of(cluster, NODE, "duo")]
    assert len(ids) == 3  # the sandbox, web and side
    runtimes = docker(cluster, NODE, "inspect", "-f", "{{.HostConfig.Runtime}}", *ids)
    assert runtimes.split() == ["crun"] * 3
    assert json.loads(docker(cluster, NODE, "info", "-f", "{{json .DefaultRuntime}}")) == "runc"
    # crun really ran it: its own state record (runc's would be a state.json, which crun
    # cannot read) in the shim's runtime root
    web = cstatus(p, "web")["container_id"]
    state = node_exec(cluster, NODE, f"crun --root /run/docker/runtime-runc/moby state {web}")
    assert state.ok and '"status": "running"' in state.stdout, state.stderr


def test_the_agent_plugs_the_sandbox_into_the_pod_bridge(cluster: Cluster, pods, agent) -> None:
    p = wait_pod(agent, "duo", running_ready)
    sandbox = next(c for c in containers_of(cluster, NODE, "duo") if c["container"] == "POD")
    info = json.loads(docker(cluster, NODE, "inspect", sandbox["id"]))[0]
    assert info["Config"]["NetworkDisabled"] is True  # no engine endpoint: the agent's pair
    assert info["NetworkSettings"]["Networks"] in ({}, None)
    ports = node_exec(cluster, NODE, "ip -o link show master podplay0", check=True).stdout
    assert f"pp{sandbox['id'][:12]}@" in ports
    web = cstatus(p, "web")["container_id"]
    link = docker(cluster, NODE, "exec", web, "ip", "-o", "link", "show", "eth0")
    assert "02:42:" + ":".join(f"{int(b):02x}" for b in p["ip"].split(".")) in link


def test_killed_container_is_restarted_and_counted(cluster: Cluster, pods, agent) -> None:
    before = wait_pod(agent, "victim", running_ready)
    old = cstatus(before, "app")
    assert old["restart_count"] == 0
    docker(cluster, NODE, "kill", old["container_id"])
    after = wait_pod(
        agent, "victim",
        lambda p: cstatus(p, "app")["restart_count"] == 1 and running_ready(p),
        timeout=10, what="restart count 1",
    )  # fmt: skip
    new = cstatus(after, "app")
    assert new["container_id"] != old["container_id"]
    assert new["last_termination"]["exit_code"] == 137
    assert new["last_termination"]["reason"] == "Error"


def test_completed_container_is_not_restarted_on_failure_policy(pods, agent) -> None:
    p = wait_pod(agent, "once", lambda p: p["phase"] == "Succeeded", what="Succeeded")
    c = cstatus(p, "app")
    assert c["state"] == "terminated" and c["exit_code"] == 0 and c["restart_count"] == 0
    assert not p["ready"]


def test_liveness_failure_restarts_the_container(cluster: Cluster, pods, agent) -> None:
    before = cstatus(wait_pod(agent, "live", running_ready), "app")
    docker(cluster, NODE, "exec", before["container_id"], "rm", "/tmp/alive")
    after = wait_pod(
        agent, "live", lambda p: cstatus(p, "app")["restart_count"] == before["restart_count"] + 1,
        timeout=15, what="a restart after liveness failures",
    )  # fmt: skip
    assert cstatus(after, "app")["container_id"] != before["container_id"]
    events = [e for e in agent.events() if e["pod"] == "live"]
    assert any(e["reason"] == "Killing" and "liveness probe failed" in e["message"] for e in events)


def test_readiness_failure_turns_ready_false_within_period_times_threshold(
    cluster: Cluster, pods, agent
) -> None:
    p = wait_pod(agent, "ready", running_ready)
    cid = cstatus(p, "app")["container_id"]
    docker(cluster, NODE, "exec", cid, "rm", "/tmp/ready")
    start = time.monotonic()
    # what a proxy sees: the watch stream pushes the change
    for event in agent.watch(timeout=5):
        if event["type"] != "snapshot":
            continue
        mine = next(x for x in event["pods"] if x["name"] == "ready")
        if not mine["ready"]:
            break
    elapsed = time.monotonic() - start
    period, threshold, timeout = 1, 2, 1
    # period x threshold, plus one probe's own run time (an exec through the engine) and slack
    assert elapsed <= period * threshold + timeout + 1.5, f"ready went false after {elapsed:.1f}s"
    assert mine["phase"] == "Running" and not cstatus(mine, "app")["ready"]
    docker(cluster, NODE, "exec", cid, "touch", "/tmp/ready")
    back = wait_pod(agent, "ready", running_ready, timeout=5, what="ready again")
    assert cstatus(back, "app")["container_id"] == cid  # readiness never restarts


def test_watch_streams_snapshots_and_heartbeats(pods, agent) -> None:
    lines = []
    start = time.monotonic()
    for event in agent.watch(timeout=5):
        lines.append((time.monotonic() - start, event))
        if len(lines) >= 4:
            break
    first = lines[0][1]
    assert first["type"] == "snapshot" and first["node"] == NODE
    assert any(p["name"] == "duo" for p in first["pods"])
    beats = [t for t, e in lines[1:] if e["type"] == "heartbeat"]
    assert beats, lines
    gaps = [b - a for a, b in zip([0.0, *beats], beats, strict=False)]
    assert max(gaps) < 2.0  # watchers treat 2 s of silence as the node gone


def test_removed_manifest_stops_and_removes_the_pod(cluster: Cluster, pods, agent) -> None:
    wait_pod(agent, "gone", running_ready)
    assert len(containers_of(cluster, NODE, "gone")) == 3  # sandbox + 2 app containers
    start = time.monotonic()
    remove_pod(cluster, NODE, "gone")
    wait_pod_gone(cluster, "gone", timeout=15)
    # one container ignores SIGTERM: it is killed only when the 2 s grace period is over
    assert time.monotonic() - start >= 2
    wait_until(lambda: pod(agent, "gone") is None, timeout=5, what="gone from the agent's list")
    events = [e for e in agent.events() if e["pod"] == "gone"]
    assert any(e["reason"] == "Killing" for e in events)


@pytest.mark.parametrize(("fname", "expect"), [(f, r) for f, (_, r) in BAD.items()])
def test_bad_manifest_is_a_failed_pod_and_the_rest_keeps_running(
    pods, agent, fname: str, expect: str
) -> None:
    name = fname[len(NAMESPACE) + 1 : -len(".json")]
    p = wait_pod(agent, name, lambda p: p["phase"] == "Failed", timeout=10, what="Failed")
    assert p["reason"] == expect
    assert p["message"] and fname in p["message"]
    assert not p["ready"]
    assert running_ready(pod(agent, "duo"))  # everything else is fine
    assert agent.healthz()[0]


def test_crash_loop_backoff_grows(pods, agent) -> None:
    # The pod has been crashing since the fixture wrote it: restart at once, then after 10 s,
    # then after 20 s. Read the history from the agent's events and the pod's status.
    p = wait_pod(
        agent, "crasher", lambda p: cstatus(p, "app")["restart_count"] >= 2,
        timeout=25, what="two restarts",
    )  # fmt: skip
    c = cstatus(p, "app")
    assert p["phase"] == "Running"  # Always: a crash-looping pod is still Running
    assert c["last_termination"]["exit_code"] == 3
    backoff = wait_pod(
        agent, "crasher",
        lambda p: "back-off 20s" in (cstatus(p, "app")["message"] or ""),
        timeout=10, what="back-off 20s",
    )  # fmt: skip
    assert cstatus(backoff, "app")["reason"] == "CrashLoopBackOff"
    events = [e for e in agent.events() if e["pod"] == "crasher"]
    starts = [_t(e["time"]) for e in events if e["reason"] == "Started"]
    assert len(starts) >= 3
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] < 5  # first crash: restarted at once (0.3 s of running + reaction)
    assert gaps[1] >= 10  # then backoff 10 s
    messages = [e["message"] for e in events if e["reason"] == "BackOff"]
    assert any("back-off 10s" in m for m in messages)


def _t(iso: str) -> float:
    import calendar

    main, _, frac = iso.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def test_api_needs_the_token(access: ClusterAccess, pods) -> None:
    node = access.node(NODE)
    bad = AgentClient(node, "wrong-token", ca=access.ca)
    assert bad.healthz()[0]  # /healthz is open
    with pytest.raises(Exception, match="unauthorized"):
        bad.pods()
    info = client_for(access, NODE).node_info()
    assert info["name"] == NODE and info["pod_cidr"] == node.pod_cidr
    assert info["capacity"]["cpu_millis"] > 0 and info["capacity"]["pods"] > 0


def test_logs_of_current_and_previous_attempt(pods, agent) -> None:
    p = wait_pod(agent, "victim", lambda p: cstatus(p, "app")["restart_count"] >= 1)
    assert p
    now = b"".join(agent.logs(NAMESPACE, "victim", "app"))
    assert b"started app" in now
    prev = b"".join(agent.logs(NAMESPACE, "victim", "app", previous=True))
    assert b"started app" in prev
    with pytest.raises(Exception, match="choose one"):
        b"".join(agent.logs(NAMESPACE, "duo"))


def test_cli_get_pods_and_logs(cluster: Cluster, pods, agent) -> None:
    wait_pod(agent, "duo", running_ready)
    env_cli = [sys.executable, "-m", "podplay.cli.main"]
    out = subprocess.run(
        [*env_cli, "get", "pods", "-c", cluster.name, "-n", NAMESPACE, "-o", "json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    doc = json.loads(out)
    duo = next(p for p in doc["pods"] if p["name"] == "duo")
    assert duo["node"] == NODE and duo["ready"] and duo["ip"] == pods["duo"]["ip"]
    table = subprocess.run(
        [*env_cli, "get", "pods", "-c", cluster.name, "-l", "app=duo"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    header, row = table.splitlines()[:2]
    assert header.split()[:4] == ["NAMESPACE", "NAME", "READY", "STATUS"]
    assert row.split()[:4] == [NAMESPACE, "duo", "2/2", "Running"]
    logs = subprocess.run(
        [*env_cli, "logs", "victim", "--cluster", cluster.name, "--tail", "1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert logs.strip() == "started app"
    follow = subprocess.Popen(
        [*env_cli, "logs", "victim", "--cluster", cluster.name, "-f", "--tail", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1)
        victim = cstatus(pod(agent, "victim"), "app")["container_id"]
        docker(cluster, NODE, "exec", victim, "sh", "-c", "echo followed > /proc/1/fd/1")
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(follow.stdout.readline()))
        reader.start()
        reader.join(10)
        assert line == ["followed\n"]
    finally:
        follow.terminate()
        follow.wait(5)
    missing = subprocess.run(
        [*env_cli, "logs", "nosuchpod", "--cluster", cluster.name],
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 2 and "no pod nosuchpod" in missing.stderr


def test_cli_get_nodes(cluster: Cluster, pods) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "podplay.cli.main", "get", "nodes", "-c", cluster.name,
         "-o", "json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    nodes = {n["name"]: n for n in json.loads(out)["nodes"]}
    assert set(nodes) == {n.name for n in cluster.nodes}
    for n in cluster.nodes:
        got = nodes[n.name]
        assert got["ready"] and got["address"] == n.address and got["pod_cidr"] == n.pod_cidr
        assert got["container"] == n.container and got["capacity"]["pods"] > 0
