"""The machine that runs podplay and the cluster's control plane agree (issue 10, items 5, 8),
on the shared local test cluster, through the `podplay` command as a user runs it:

- refresh: a move the controller made (a Binding written into the real store, exactly as the
  controller writes it, and the pods run where it says) is read back by the next `up`: an
  unchanged program plans no pod changes, Ansible changes no pod, `verify` passes;
- a dead node (`docker stop`) does not block the user: `preview` names its pods moving, `up`
  of a scaled program succeeds on the other nodes, `destroy --keep-cluster` cleans what it
  reaches and keeps the stack; once the node is back, `destroy` again leaves nothing;
- a local cluster with a node stopped is deleted by `destroy`.

The node is started again whatever happens (the module's fixture), and the app goes, so
the tests after these (e2e) find the cluster as they expect it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import CLUSTER_NAME, node_exec, wait_until

from podplay import substrate
from podplay.artifacts import bundle, pki
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.node import placement
from podplay.node.contract import defaults
from podplay.node.contract.store import Binding, Cursor, Event, Requests
from podplay.node.store import Store
from podplay.node.store import keys as store_keys
from podplay.plan import Plan, PodPlan
from podplay.plan.refresh import apply_moves
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

PODPLAY = str(Path(sys.executable).parent / "podplay")
BUNDLE = "/opt/podplay/podplay-node.pyz"
NODE_PORT = 30083
STOPPED = "node3"  # an etcd member of three: the store keeps its quorum

PROGRAM = """\
import podplay as pp

pp.Cluster({cluster!r}, nodes=3)
image = pp.Image("refresh-web", context="web")
web = pp.Deployment("web", replicas={replicas}, containers=[
    pp.Container("web", image=image, ports=[8080],
                 command=["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"],
                 readiness=pp.HttpProbe("/", 8080, period=1))])
pp.Service("web", selector=web, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
"""


def podplay(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODPLAY, *args], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"rc={done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    return done.stdout


class App:
    def __init__(self, root: Path, cluster: Cluster) -> None:
        self.root, self.cluster = root, cluster
        self.stack = root / ".podplay" / cluster.name
        (root / "web" / "www").mkdir(parents=True)
        (root / "web" / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY www /www\n'
        )
        (root / "web" / "www" / "index.html").write_text("refresh\n")
        self.program = self.write(3)

    def write(self, replicas: int) -> Path:
        path = self.root / "app.py"
        text = PROGRAM.format(cluster=self.cluster.name, replicas=replicas, node_port=NODE_PORT)
        path.write_text(text)
        return path

    def applied(self) -> Plan:
        return Plan.from_json((self.stack / "plan.json").read_text())

    def last_up(self) -> dict[str, Any]:
        return json.loads((self.stack / "last-up.json").read_text())

    def pods(self) -> list[dict[str, Any]]:
        out = ok(podplay("get", "pods", "-c", self.cluster.name, "-o", "json"))
        return [p for p in json.loads(out)["pods"] if p["name"].startswith("web-")]


def store(cluster: Cluster) -> Store:
    """The real store, with podplay's own client certificate (what the CLI uses)."""
    certs = pki.Pki(pki.pki_dir(cluster.name))
    return Store(
        [f"https://{n.address}:2379" for n in cluster.nodes],
        ca=str(certs.ca_cert), cert=str(certs.client_cert), key=str(certs.client_key),
    )  # fmt: skip


def node_back(cluster: Cluster, node: str) -> None:
    """Start a stopped node container and wait until its agent answers again."""
    subprocess.run(["docker", "start", cluster.node(node).container], check=True,
                   capture_output=True)  # fmt: skip
    wait_until(
        lambda: node_exec(cluster, node, "systemctl is-active podplay-agent").stdout.strip()
        == "active",
        timeout=120, what=f"{node} back, its agent active",
    )  # fmt: skip


@pytest.fixture(scope="module")
def app(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    the_app = App(tmp_path_factory.mktemp("refresh"), cluster)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NODE_BUNDLE_ENV, str(bundle.ensure_bundle()))
        try:
            yield the_app
        finally:  # the cluster as the next tests expect it: every node up, no app, no owner
            stopped = substrate.get_cluster(cluster.name)
            if stopped and stopped.node(STOPPED).state != "running":
                node_back(cluster, STOPPED)
            if (the_app.stack / "plan.json").exists():
                podplay("destroy", str(the_app.program), "-y", "--keep-cluster")


# -- refresh ------------------------------------------------------------------------------------


def controller_move(applied: Plan, victim: PodPlan, to_exclude: str) -> Binding:
    """Where the controller would put `victim` once its node is NotReady: the shared
    placement rules, over the plan's nodes and every other pod (as the controller reads them
    from the store's node specs and bindings)."""
    nodes = [
        placement.Node(
            name=n.name,
            pod_cidr=n.pod_cidr,
            labels=n.labels,
            ready=n.name != to_exclude,
            cpu_millis=n.capacity.cpu_millis,
            memory_bytes=n.capacity.memory_bytes,
            max_pods=n.capacity.pods,
            last_pod_ip=n.last_pod_ip,
        )
        for n in applied.nodes
    ]
    placed = [
        placement.PlacedPod((p.namespace, p.deployment), p.node, p.ip)
        for p in applied.pods
        if p.name != victim.name
    ]
    states = placement.node_states(nodes, placed)
    done = placement.place_pods(states, (victim.namespace, victim.deployment), {},
                                placement.Request(), 1)  # fmt: skip
    assert done.infeasible is None, done
    [where] = done.bindings
    return Binding(
        victim.namespace, victim.name, where.node, where.ip, victim.deployment,
        victim.template_hash, {}, Requests(), {**victim.manifest, "ip": where.ip},
        "controller", victim.node, time.time(), f"node {victim.node} NotReady for 3 s",
    )  # fmt: skip


def run_pods_as_placed(cluster: Cluster, plan: Plan) -> None:
    """Each node's pod files as Ansible's pod task writes them (the bundle's `files apply
    pods`), so the agents run the pods where `plan` puts them."""
    for node in cluster.nodes:
        pods = [p.manifest for p in plan.pods if p.node == node.name]
        argv = ["python3", BUNDLE, "files", "apply", "pods", "--desired", "-"]
        done = node_exec(cluster, node, argv, input=json.dumps({"pods": pods}))
        assert done.ok, done


def pod_files(cluster: Cluster) -> dict[str, str]:
    """Each node's pod files with their inode and modification time (a write replaces both)."""
    argv = ["sh", "-c", f"stat -c '%n %i %y' {defaults.PODS_DIR}/* 2>/dev/null; true"]
    return {n.name: node_exec(cluster, n, argv).stdout for n in cluster.nodes}


def test_up_after_a_controller_move_changes_no_pod(app: App, cluster: Cluster) -> None:
    ok(podplay("up", str(app.program), "-y"))
    applied = app.applied()
    victim = next(p for p in applied.pods if p.node == "node2")
    binding = controller_move(applied, victim, "node2")
    assert binding.node != "node2"
    node = next(n for n in applied.nodes if n.name == binding.node)
    s = store(cluster)
    c = cluster.name
    s.put(store_keys.binding_key(c, victim.namespace, victim.name), binding.to_text())
    s.put(store_keys.cursor_key(c, binding.node), Cursor(binding.ip, node.last_pod_ip).to_text())
    event = Event(time.time(), "Normal", "Rescheduled",
                  f"pod {victim.name} moved from node2 to {binding.node}", "Pod",
                  victim.namespace, victim.name, binding.node, "controller")  # fmt: skip
    s.put(store_keys.event_key(c, int(event.time * 1000), "itest"), event.to_text())
    moved = apply_moves(applied, [binding]).plan
    run_pods_as_placed(cluster, moved)

    def runs_there() -> bool:
        found = [p for p in app.pods() if p["name"] == victim.name]
        return [(p["node"], p["ip"], p["ready"]) for p in found] == [
            (binding.node, binding.ip, True)
        ]

    wait_until(runs_there, timeout=60, what=f"{victim.name} running on {binding.node}")

    preview = json.loads(ok(podplay("preview", str(app.program), "--json")))
    assert [c for c in preview["changes"] if c["kind"] == "Pod"] == []
    assert [(m["name"], m["from"], m["to"], m["ip"]) for m in preview["moved"]] == [
        (victim.name, "node2", binding.node, binding.ip)
    ]
    files = pod_files(cluster)
    out = ok(podplay("up", str(app.program), "-y"))
    assert f"refreshed: pod default/{victim.name} moved from node2 to {binding.node}" in out
    last = app.last_up()
    assert [c for c in last["changes"] if " Pod " in c] == []
    assert pod_files(cluster) == files  # no pod file written (the same inodes and times)
    assert next(p for p in app.applied().pods if p.name == victim.name).node == binding.node
    ok(podplay("verify", str(app.program), "-q"))
    text = ok(podplay("describe", "pod", victim.name, "-c", cluster.name))
    assert "Rescheduled" in text and f"moved from node2 to {binding.node}" in text


# -- a node stopped ------------------------------------------------------------------------------


def http(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.read().decode().strip()
    except OSError as err:
        return f"no answer: {err}"


def test_up_with_a_node_stopped_scales_on_the_others(app: App, cluster: Cluster) -> None:
    container = cluster.node(STOPPED).container
    stranded = [p.name for p in app.applied().pods if p.node == STOPPED]
    assert stranded, "the test needs a pod on the node it stops"
    subprocess.run(["docker", "stop", container], check=True, capture_output=True)
    bigger = app.write(5)

    preview = ok(podplay("preview", str(bigger)))
    assert f"{STOPPED} is NotReady (its container {container} is not running (exited))" in preview
    for name in stranded:  # planned around, unless the controller moved it already
        planned = f"-  Pod default/{name}: node {STOPPED} NotReady, re-created as web-"
        moved = f"refreshed: pod default/{name} moved from {STOPPED} to node"
        assert planned in preview or moved in preview, preview

    started = time.monotonic()
    out = ok(podplay("up", str(bigger), "-y", timeout=300))
    assert f"{STOPPED} is NotReady" in out and "left out of ansible-playbook" in out
    assert "5 pods available" in out, out
    assert time.monotonic() - started < 240
    pods = app.pods()
    assert len(pods) == 5 and {p["node"] for p in pods} <= {"node1", "node2"}
    assert all(p["ready"] for p in pods)
    assert http(f"http://{cluster.node('node1').address}:{NODE_PORT}/") == "refresh"
    nodes = json.loads(ok(podplay("get", "nodes", "-c", cluster.name, "-o", "json")))["nodes"]
    assert [n["name"] for n in nodes if not n["ready"]] == [STOPPED]

    done = podplay("destroy", str(bigger), "-y", "--keep-cluster")
    text = ok(done)
    assert f"not reached: {STOPPED} is NotReady" in text
    assert f"start it (docker start {container}) and run destroy again" in text
    for node in ("node1", "node2"):
        left = node_exec(cluster, node, "docker ps -q --filter label=io.podplay.pod").stdout
        assert left.strip() == "", f"pod containers left on {node}"
    assert (app.stack / "plan.json").exists()  # the stack is kept for the rest


def test_destroy_once_the_node_is_back_leaves_nothing(app: App, cluster: Cluster) -> None:
    node_back(cluster, STOPPED)
    out = ok(podplay("destroy", str(app.program), "-y", "--keep-cluster"))
    assert "nodes kept" in out and "forgotten" in out
    for node in cluster.nodes:
        left = node_exec(cluster, node, "docker ps -aq --filter label=io.podplay.pod").stdout
        assert left.strip() == "", f"pod containers left on {node.name}"
        chains = node_exec(cluster, node, "iptables-save | grep -o '^:PODPLAY-[A-Z0-9-]*'").stdout
        assert [c for c in chains.split() if not c.startswith(":PODPLAY-NET-")] == []
    assert not (app.stack / "plan.json").exists()


def test_destroy_deletes_a_local_cluster_with_a_node_stopped(tmp_path: Path) -> None:
    name = f"{CLUSTER_NAME[:28]}-x"
    substrate.delete_cluster(name)
    try:
        ok(podplay("cluster", "create", name, "--nodes", "2", "--no-configure"))
        made = substrate.get_cluster(name)
        assert made is not None
        subprocess.run(["docker", "stop", made.node("node2").container], check=True,
                       capture_output=True)  # fmt: skip
        program = tmp_path / "app.py"
        program.write_text(
            f"import podplay as pp\npp.Cluster({name!r}, nodes=2)\n"
            'pp.Deployment("web", replicas=2, containers=[pp.Container("web", image="busybox")])\n'
        )
        out = ok(podplay("destroy", str(program), "-y"))
        assert f"Destroyed: local cluster {name} deleted" in out
        assert substrate.get_cluster(name) is None
        left = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=io.podplay.cluster={name}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert left.strip() == ""
    finally:
        substrate.delete_cluster(name)
