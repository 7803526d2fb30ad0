"""One Python file to a running, verified app, on the shared local test cluster (issue 6).

These tests run in order, after every other integration test (tests/integration/conftest.py
sorts them last: `up` replaces every pod on the cluster) and the destroy test runs last of
all (it deletes the cluster). The program names the session cluster, so `up` uses it.
Everything goes through the `podplay` command, as a user runs it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_app import NODE_PORT, write_program
from helpers import node_exec, wait_until

from podplay import substrate
from podplay.artifacts import bundle
from podplay.control.agent_client import access_from_inventory
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.execute import run_playbook
from podplay.substrate import Cluster
from podplay.verify import checks

pytestmark = pytest.mark.integration

PODPLAY = str(Path(sys.executable).parent / "podplay")
# what a change of the app part runs: one play, a block per stage named for it (images,
# drain first, then the step: table, pods, routing and the wait)
STAGE_TASK = re.compile(r"-: rollout step \d+/\d+: .+")
STEP_SUFFIXES = (" - images side-loaded", " - drain first")


def podplay(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The podplay command, as a user runs it (stdin not a terminal: no questions)."""
    return subprocess.run(
        [PODPLAY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **(env or {})},
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"rc={done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    return done.stdout


def http(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode().strip()


class App:
    """The program directory, its stack state and what the tests learn along the way."""

    def __init__(self, root: Path, cluster: Cluster) -> None:
        self.root = root
        self.cluster = cluster
        self.program = write_program(root, cluster.name)
        self.stack = root / ".podplay" / cluster.name
        self.facts: dict[str, Any] = {}

    def write(self, **kwargs: Any) -> Path:
        return write_program(self.root, self.cluster.name, **kwargs)

    @property
    def last_up(self) -> dict[str, Any]:
        return json.loads((self.stack / "last-up.json").read_text())

    def pods(self) -> list[dict[str, Any]]:
        out = ok(podplay("get", "pods", "-c", self.cluster.name, "-o", "json"))
        return [p for p in json.loads(out)["pods"] if p["name"].startswith("api-")]

    def access(self) -> Any:
        return access_from_inventory(self.stack / "build" / "inventory.yml", self.cluster.name)


@pytest.fixture(scope="module")
def app(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    # one node bundle for the whole module: the shared tree's node code may change meanwhile,
    # and a new bundle is a real change (up would rightly report it)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NODE_BUNDLE_ENV, str(bundle.ensure_bundle()))
        yield App(tmp_path_factory.mktemp("e2e"), cluster)


def _snapshot(cluster: Cluster) -> dict[str, str]:
    """What runs and routes on every node (counters and times left out)."""
    cmd = (
        "docker ps -a --no-trunc --format '{{.ID}} {{.State}} {{.Names}}' | sort; "
        "iptables-save | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; "
        "find /etc/podplay -type f -exec md5sum {} + | sort"
    )
    return {n.name: node_exec(cluster, n, cmd, check=True).stdout for n in cluster.nodes}


def test_up_verify_and_http_through_every_service_type(app: App, cluster: Cluster) -> None:
    out = ok(podplay("up", str(app.program), "-y"))
    assert "3 pods available" in out
    assert f"http://{cluster.nodes[0].address}:{NODE_PORT}" in out
    outputs = json.loads((app.stack / "outputs.json").read_text())
    app.facts.update(outputs["exports"])

    checks_run = ok(podplay("verify", str(app.program)))
    assert " passed" in checks_run and "failed" not in checks_run

    # NodePort: from this machine, on every node's address (also nodes without the pod)
    for node in cluster.nodes:
        assert http(f"http://{node.address}:{NODE_PORT}/cgi-bin/whoami").startswith("v1 api-")
    # LoadBalancer: its IP from the pool, from this machine
    assert http(f"http://{app.facts['lb_ip']}/cgi-bin/whoami").startswith("v1 api-")
    # ClusterIP: from a node, and by DNS name from inside a pod
    on_node = node_exec(
        cluster, "node2", f"curl -s -m 5 http://{app.facts['cluster_ip']}/cgi-bin/whoami"
    )
    assert on_node.stdout.startswith("v1 api-"), on_node
    by_name = http(f"http://{cluster.nodes[0].address}:{NODE_PORT}/cgi-bin/ask?api")
    assert by_name.startswith("v1 api-"), by_name
    # ExternalName: a CNAME alias, followed by the pod's resolver, to a real HTTP answer
    by_alias = http(f"http://{cluster.nodes[0].address}:{NODE_PORT}/cgi-bin/ask?api-alias")
    assert by_alias.startswith("v1 api-"), by_alias


def test_verify_fails_naming_what_is_wrong(app: App, cluster: Cluster) -> None:
    node = cluster.nodes[-1].name
    node_exec(cluster, node, "systemctl stop podplay-proxy", check=True)
    try:
        done = podplay("verify", str(app.program))
    finally:
        node_exec(cluster, node, "systemctl start podplay-proxy", check=True)
    assert done.returncode == 1, done.stdout[-2000:]
    assert f"test_node_healthy[{node}] FAILED" in done.stdout
    assert f"not running on {node}: podplay-proxy" in done.stdout
    assert "checks failed for stack" in done.stderr
    ok(podplay("verify", str(app.program), "-q"))  # and passes again once it runs


def test_get_and_describe_show_the_app_live(app: App, cluster: Cluster) -> None:
    name = cluster.name
    got = json.loads(ok(podplay("get", "deployments", "-c", name, "-o", "json")))
    api = next(d for d in got["deployments"] if d["name"] == "api")
    assert (api["replicas"], api["ready"], api["up_to_date"]) == (3, 3, 3)
    got = json.loads(ok(podplay("get", "services", "-c", name, "-o", "json")))
    services = {s["name"]: s for s in got["services"]}
    assert {s["type"] for s in services.values()} == {
        "ClusterIP", "NodePort", "LoadBalancer", "ExternalName",
    }  # fmt: skip
    assert services["api"]["cluster_ip"] == app.facts["cluster_ip"]
    assert services["api-public"]["ports"][0]["node_port"] == NODE_PORT
    lb = services["api-lb"]
    assert lb["load_balancer_ip"] == app.facts["lb_ip"]
    assert (lb["ports"][0]["port"], lb["ports"][0]["target_port"]) == (80, 8080)
    assert services["api-alias"]["external_name"] == "api.default.svc.cluster.local"
    pods = app.pods()
    endpoints = services["api"]["endpoints"]
    assert sorted(e["address"] for e in endpoints) == sorted(f"{p['ip']}:8080" for p in pods)
    assert all(e["ready"] for e in endpoints)

    # a container that dies is restarted by its node's agent, and describe tells the story
    victim = pods[0]
    container = victim["containers"][0]["container_id"]
    node_exec(cluster, victim["node"], f"docker kill {container}", check=True)

    def back() -> bool:
        now = next((p for p in app.pods() if p["name"] == victim["name"]), None)
        return bool(now and now["ready"] and now["containers"][0]["restart_count"] == 1)

    wait_until(back, timeout=60, what=f"{victim['name']} restarted and ready")
    text = ok(podplay("describe", "pod", victim["name"], "-c", name))
    assert "Restart count:     1" in text
    for event in ("Scheduled", "SandboxStarted", "Started", "restart (exit code"):
        assert event in text, text
    text = ok(podplay("describe", "deployment", "api", "-c", name))
    assert "3 desired, 3 ready, 3 up to date" in text and "restart (exit code" in text


USER_TESTS = """
def test_engine_runs_on_every_node(podplay_node):
    assert podplay_node.service("docker").is_running

def test_outputs_name_the_lb_ip(podplay_cluster, podplay_hosts):
    assert set(podplay_hosts) == set(podplay_cluster.nodes)
    assert podplay_cluster.outputs["exports"]["lb_ip"] == {lb_ip!r}
"""


def test_pytest_plugin_runs_a_users_testinfra_tests_on_the_nodes(
    app: App, cluster: Cluster
) -> None:
    tests = app.root / "user-tests"
    tests.mkdir(exist_ok=True)
    (tests / "test_mine.py").write_text(USER_TESTS.format(lb_ip=app.facts["lb_ip"]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", str(tests),
         "--rootdir", str(tests), "--podplay-program", str(app.program)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    for node in cluster.nodes:
        assert f"test_engine_runs_on_every_node[{node.name}] PASSED" in done.stdout
    assert f"{len(cluster.nodes) + 1} passed" in done.stdout


def test_up_again_changes_nothing(app: App) -> None:
    preview = json.loads(ok(podplay("preview", str(app.program), "--json")))
    assert preview["changes"] == [] and preview["summary"] == "no changes"
    ok(podplay("preview", str(app.program), "--expect-no-changes"))
    out = ok(podplay("up", str(app.program), "-y"))
    assert "Resources: no changes" in out
    record = app.last_up
    assert record["changes"] == []
    assert record["playbooks"] == []  # every part of every node is as last applied: no run
    assert record["timings"]["converge"] < 1.0
    # --full runs every role on every node, and finds nothing to change
    ok(podplay("up", str(app.program), "-y", "--full"))
    [full] = app.last_up["playbooks"]
    assert full["roles"] == ["node", "runtime", "network", "control_plane", "agent", "proxy"]
    assert full["changed"] == 0, full["changed_tasks"]


def test_bad_program_changes_nothing_on_any_node(app: App, cluster: Cluster) -> None:
    before = _snapshot(cluster)
    state_before = {p.name: p.read_bytes() for p in app.stack.glob("*.json")}
    bad = app.write(name="bad.py", extra='pp.Service("api", selector=api, ports=[80])')
    done = podplay("up", str(bad), "-y")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {bad}:") and "Traceback" not in done.stderr
    assert 'a Service named "api" already exists in namespace "default"' in done.stderr
    assert _snapshot(cluster) == before
    assert {p.name: p.read_bytes() for p in app.stack.glob("*.json")} == state_before


class ClientLoop(threading.Thread):
    """Requests through a service, one new connection each, until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.answers: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.answers.append(http(self.url, timeout=3))
            except Exception as err:  # every failure counts, whatever it is
                self.failures.append(f"{time.strftime('%T')} {err!r}")
            time.sleep(0.02)


def test_image_change_replaces_pods_one_at_a_time_without_a_failed_request(
    app: App, cluster: Cluster
) -> None:
    old = {p["name"] for p in app.pods()}
    program = app.write(version="v2")
    preview = json.loads(ok(podplay("preview", str(program), "--json")))
    replaced = [c for c in preview["changes"] if c["kind"] == "Pod"]
    assert [c["op"] for c in replaced] == ["+-"] * 3
    assert {c["replaces"] for c in replaced} == old

    loop = ClientLoop(f"http://{cluster.nodes[0].address}:{NODE_PORT}/cgi-bin/whoami")
    loop.start()
    try:
        # first a release that cannot start: its rollout stops at the first new pod ...
        broken = app.write(version="v2", broken=True)
        failed = podplay("up", str(broken), "-y", env={"PODPLAY_WAIT_TIMEOUT": "8"})
        # ... then the fixed one: it replaces the old pods still serving, one at a time
        program = app.write(version="v2")
        out = ok(podplay("up", str(program), "-y"))
    finally:
        loop.stop.set()
        loop.join(10)
    assert failed.returncode == 1, failed.stderr
    # the runtime's own words: crun's "executable file `x` not found in $PATH" (runc's read
    # "exec: "x": executable file not found in $PATH")
    assert "StartError" in failed.stderr and "not found in $PATH" in failed.stderr
    assert loop.failures == [], f"{len(loop.failures)} of {len(loop.answers)} failed"
    assert "an earlier up was interrupted; converging to the program as it is now" in out
    # the broken pod drains while the first replacement starts, the next two replacements
    # each overlap an old pod's drain, then the last two old pods go (the last drained at
    # the end of the step before)
    assert "in 5 steps" in out
    # ... and all of them in one ansible-playbook run, the waits on the nodes, no role of
    # site.yml (the nodes, runtime, network, control plane, agent config: only the app changed)
    [run] = app.last_up["playbooks"]
    assert run["playbook"] == "rollout.yml"
    assert run["roles"] == [] and all(STAGE_TASK.fullmatch(t) for t in run["tasks"]), run
    assert any(not t.endswith(STEP_SUFFIXES) for t in run["tasks"]), run["tasks"]
    versions = [a.split()[0] for a in loop.answers]
    assert versions[0] == "v1" and versions[-1] == "v2" and len(versions) > 50

    # one at a time, as the nodes saw it, with Kubernetes' overlap: old pod k stops only
    # after new pod k+1 started (it left routing while that one started, a stage before)
    wait_until(lambda: not old & {p["name"] for p in app.pods()}, timeout=60, what="old pods gone")
    new = {p["name"] for p in app.pods()}
    assert new.isdisjoint(old) and len(new) == 3
    events = [e for _, es in app.access().each(lambda c: c.events()) for e in es]
    started = sorted(e["time"] for e in events if e["pod"] in new and e["reason"] == "Started")
    killed = sorted(
        e["time"]
        for e in events
        if e["pod"] in old and e["reason"] == "Killing" and "stopping pod" in e["message"]
    )
    assert len(started) == 3 and len(killed) == 3, (started, killed)
    # the last two old pods go in one stage, each on its node: the same millisecond is fine
    assert started[0] < started[1] < killed[0] < killed[1] <= killed[2]
    assert started[2] < killed[1]


def test_scale_3_to_5_adds_two_pods_and_keeps_the_others(app: App) -> None:
    before = {p["name"]: [c["container_id"] for c in p["containers"]] for p in app.pods()}
    program = app.write(version="v2", replicas=5)
    preview = json.loads(ok(podplay("preview", str(program), "--json")))
    pods = [c for c in preview["changes"] if c["kind"] == "Pod"]
    assert [c["op"] for c in pods] == ["+", "+"]
    assert [c["op"] for c in preview["changes"] if c["kind"] != "Pod"] == ["~"]
    out = ok(podplay("up", str(program), "-y"))
    assert "5 pods available" in out
    after = {p["name"]: [c["container_id"] for c in p["containers"]] for p in app.pods()}
    assert len(after) == 5
    assert {name: after[name] for name in before} == before
    # only the app part ran: the pods (binding table, manifests) and the routing, in one
    # play, no role of the nodes, the runtime, the network, the control plane nor the agent
    [run] = app.last_up["playbooks"]
    assert run["playbook"] == "rollout.yml"
    assert run["roles"] == [] and all(STAGE_TASK.fullmatch(t) for t in run["tasks"]), run
    assert any(not t.endswith(STEP_SUFFIXES) for t in run["tasks"]), run["tasks"]


def test_after_up_a_plain_site_yml_of_the_build_changes_nothing(app: App) -> None:
    """What `up` skipped was already in place: the whole project converges with changed=0."""
    build = app.stack / "build"
    result = run_playbook(build / "site.yml", build / "inventory.yml", quiet=True)
    assert result.ok, result.output_tail[-2000:]
    assert result.changed == 0, [f"{e.host}: {e.task}" for e in result.changed_tasks]
    assert result.roles_ran == ["node", "runtime", "network", "control_plane", "agent", "proxy"]


def test_after_up_site_yml_check_diff_of_the_build_reports_no_change(app: App) -> None:
    """Every role computes its whole state in its module call, check mode included."""
    build = app.stack / "build"
    result = run_playbook(build / "site.yml", build / "inventory.yml", quiet=True, check=True,
                          diff=True)  # fmt: skip
    assert result.ok, result.output_tail[-2000:]
    assert result.changed == 0, [f"{e.host}: {e.task}" for e in result.changed_tasks]


def _ansible_running(build: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ansible-playbook" in text and str(build) in text:
            found.append(text)
    return found


def test_ctrl_c_in_the_middle_of_up_then_up_converges(app: App, cluster: Cluster) -> None:
    # new pods ready only 4 s after they start: the rollout's first stage waits on the nodes
    # that long, so the interrupt surely lands while ansible-playbook runs (a rollout of
    # quick pods can be over before the signal is sent)
    program = app.write(version="v2", replicas=3, start_delay=4)
    journal = app.stack / "journal.json"
    proc = subprocess.Popen(
        [PODPLAY, "up", str(program), "-y"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: journal.exists() and json.loads(journal.read_text())["phase"] == "converge",
            timeout=120,
            what="up to reach its converge phase",
        )
        wait_until(lambda: _ansible_running(app.stack / "build"), timeout=30, what="ansible",
                   interval=0.05)  # fmt: skip
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; the journal" in err and "finishes the job" in err
    assert journal.exists()
    assert _ansible_running(app.stack / "build") == []

    out = ok(podplay("up", str(program), "-y"))
    assert "resuming an interrupted up" in out
    assert not journal.exists()
    wait_until(lambda: len(app.pods()) == 3, timeout=60, what="the two removed pods gone")
    ok(podplay("verify", str(program), "-q"))
    ok(podplay("preview", str(program), "--expect-no-changes"))


def test_a_node_whose_agent_is_down_shows_its_pods_unknown(app: App, cluster: Cluster) -> None:
    """get pods lists the lost node's pods from the applied plan with STATUS Unknown (and
    warns), and describe node says the node is not ready, asking it once."""
    name = cluster.name
    lost = app.pods()[0]
    node = lost["node"]
    node_exec(cluster, node, "systemctl stop podplay-agent", check=True)
    try:
        done = podplay("get", "pods", "-c", name)
        text = ok(podplay("describe", "node", node, "-c", name))
    finally:
        node_exec(cluster, node, "systemctl start podplay-agent", check=True)
    rows = [line.split() for line in ok(done).splitlines()]
    assert ["default", lost["name"], "0/1", "Unknown", "-", lost["ip"], node] in rows
    assert f"warning: node {node}: agent at" in done.stderr and "does not answer" in done.stderr
    fields = dict(line.split(":", 1) for line in text.splitlines()[:6])
    assert fields["Ready"].strip() == "False" and "does not answer" in fields["Message"]
    wait_until(
        lambda: all(p["ready"] for p in app.pods()), timeout=30, what="the agent back, pods ready"
    )


def _dns_answers(cluster: Cluster, node: str, name: str) -> str:
    cmd = checks.dns_command(name, checks.A, "10.96.0.10", timeout=2)
    return node_exec(cluster, node, cmd).stdout


def test_destroy_removes_the_app_then_the_cluster(app: App, cluster: Cluster) -> None:
    program = app.root / "app.py"
    assert _dns_answers(cluster, "node1", "api.default.svc.cluster.local").count("10.96.")
    # the program no longer evaluates: destroy works from the stack's state, and says so
    good = program.read_text()
    program.write_text(good + "pp.Deployment('oops', replicas=1\n")
    done = podplay("destroy", str(program), "-y", "--keep-cluster")
    program.write_text(good)
    ok(done)
    [line] = [x for x in done.stderr.splitlines() if x.startswith("warning:")]
    assert f"{program} does not evaluate ({program}:" in line and "syntax error" in line
    assert line.endswith(f"destroying what stack {cluster.name}'s state describes "
                         f"({app.stack / 'plan.json'})")  # fmt: skip
    for node in cluster.nodes:
        pods = node_exec(cluster, node, "docker ps -aq --filter label=io.podplay.pod").stdout
        assert pods.strip() == "", f"pod containers left on {node.name}"
        chains = node_exec(cluster, node, "iptables-save | grep -o '^:PODPLAY-[A-Z0-9-]*'").stdout
        assert [c for c in chains.split() if not c.startswith(":PODPLAY-NET-")] == []
        assert "10.96." not in _dns_answers(cluster, node.name, "api.default.svc.cluster.local")
    assert not (app.stack / "plan.json").exists()

    ok(podplay("destroy", str(program), "-y"))
    assert substrate.get_cluster(cluster.name) is None
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.podplay.cluster={cluster.name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert left.strip() == ""
