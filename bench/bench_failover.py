"""Benchmark: a node stops; how soon do its pods run again elsewhere? podplay's control plane
against Docker Swarm, on the same node image, on one machine, in one run, rounds alternating.

- podplay, a worker: a local 3-node cluster (`ppbench-fail`) runs `web` (3 replicas of a
  busybox httpd, a NodePort service), put up by `podplay up`. A round: `docker stop` of a
  node that runs a pod of `web` and does not hold the controller's leadership -> seconds
  until 3 pods of `web` are Ready on the survivors (their agents' `/v1/pods`) AND routed by
  every survivor's proxy (`/run/podplay/proxy.json`, `ready_endpoints`). The node is then
  started again and the deployment left to settle at 3 before the next round.
- podplay, the leader's node: the same, stopping the node whose controller holds the
  store's `leader` key (its pods and the controller's leadership move).
- Docker Swarm: three containers of the same node image (`podplay.artifacts.node_image`),
  `docker swarm init` in the first and `join` in the others, podplay's busybox image
  side-loaded into each engine, `docker service create --replicas 3` of its httpd. A round:
  `docker stop` of a worker container that runs a task -> seconds until 3 tasks run on the
  survivors (`docker service ps` on the manager). Then it is started again and the service
  spread over the three nodes again (`docker service update --force`).

Every clock starts when `docker stop` is issued (its own shutdown time counts for both).
Prints min and median per measure, the ratio podplay/Swarm of the medians, the load average
(both clusters run during the whole run, so each round sees the same background), and the
resident memory of the store and the controller per node (etcd + podplay-controller).
Targets: podplay median <= 10 s, ratio <= 0.6, leader's node <= 15 s, memory < 80 MB.

    .venv/bin/python bench/bench_failover.py [--rounds 3] [--only podplay|swarm] [--keep]

The podplay half needs the node side of the control plane (`podplay-controller` on the
control-plane nodes, agents keeping leases and following the store's bindings); on nodes
without it the half is reported as not measurable, and nothing is made up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podplay import substrate
from podplay.artifacts import pki
from podplay.control.agent_client import ClusterAccess, access_from_inventory, pods_by_node
from podplay.node.contract.store import Leader
from podplay.node.store import Store, StoreError
from podplay.node.store import keys as store_keys

sys.path.insert(0, str(Path(__file__).resolve().parent))  # failover_swarm beside this file
from failover_swarm import (
    POLL,
    REPLICAS,
    ROUND_TIMEOUT,
    SERVE,
    SWARM_CLUSTER,
    Swarm,
    in_node,
    run,
    stop_in_background,
    wait_for,
)

PODPLAY = str(Path(sys.executable).parent / "podplay")
PODPLAY_CLUSTER = "ppbench-fail"
NODE_PORT = 30088
TARGETS = {"podplay": 10.0, "ratio": 0.6, "leader": 15.0, "memory": 80.0}
PROGRAM = """\
import podplay as pp

pp.Cluster({cluster!r}, nodes=3)
image = pp.Image("failover-web", context="web")
web = pp.Deployment("web", replicas={replicas}, containers=[
    pp.Container("web", image=image, ports=[8080], command=["sh", "-c", {serve!r}],
                 readiness=pp.HttpProbe("/", 8080, period=1))])
pp.Service("web", selector=web, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
"""


# -- what counts as recovered (pure) ------------------------------------------------------------


def ready_pods(pods: Iterable[Mapping[str, Any]], prefix: str, nodes: Iterable[str]) -> set[str]:
    """Endpoint keys (`ns/pod@ip`) of the deployment's pods Running and ready on `nodes`."""
    wanted = set(nodes)
    return {
        f"{p['namespace']}/{p['name']}@{p['ip']}"
        for p in pods
        if p.get("node") in wanted
        and str(p.get("name", "")).startswith(prefix)
        and p.get("phase") == "Running"
        and p.get("ready") is True
        and p.get("reason") != "Terminating"
    }


def recovered(
    pods: Iterable[Mapping[str, Any]],
    proxies: Mapping[str, Mapping[str, Any] | None],
    survivors: Sequence[str],
    prefix: str = "web-",
    want: int = REPLICAS,
) -> bool:
    """`want` pods of the deployment are ready on the survivors and every survivor's proxy
    routes to each of them."""
    ready = ready_pods(pods, prefix, survivors)
    if len(ready) < want:
        return False
    for node in survivors:
        status = proxies.get(node)
        if status is None or not ready <= set(status.get("ready_endpoints") or ()):
            return False
    return True


# -- podplay ------------------------------------------------------------------------------------


@dataclass
class Podplay:
    """The local cluster with the app, and how to watch it recover."""

    root: Path
    access: ClusterAccess | None = None

    @property
    def program(self) -> Path:
        return self.root / "app.py"

    def create(self) -> None:
        (self.root / "web" / "www").mkdir(parents=True, exist_ok=True)
        (self.root / "web" / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY www /www\n'
        )
        (self.root / "web" / "www" / "index.html").write_text("failover\n")
        self.program.write_text(PROGRAM.format(cluster=PODPLAY_CLUSTER, replicas=REPLICAS,
                                               serve=SERVE, node_port=NODE_PORT))  # fmt: skip
        run([PODPLAY, "up", str(self.program), "-y"], timeout=900, stdin=subprocess.DEVNULL)
        inventory = self.root / ".podplay" / PODPLAY_CLUSTER / "build" / "inventory.yml"
        self.access = access_from_inventory(inventory, PODPLAY_CLUSTER)

    def cluster(self) -> substrate.Cluster:
        found = substrate.get_cluster(PODPLAY_CLUSTER)
        assert found is not None
        return found

    def has_control_plane(self) -> str | None:
        """None when the nodes run the controller; else why the half cannot be measured."""
        node = self.cluster().nodes[0]
        units = in_node(node.container, "systemctl", "list-unit-files", "podplay-controller*",
                        "--no-legend", check=False)  # fmt: skip
        if "podplay-controller" not in units:
            return "no podplay-controller unit on the nodes (the node side of the control plane)"
        return None

    def store(self) -> Store:
        certs = pki.Pki(pki.pki_dir(PODPLAY_CLUSTER))
        return Store(
            [f"https://{n.address}:2379" for n in self.cluster().nodes],
            ca=str(certs.ca_cert), cert=str(certs.client_cert), key=str(certs.client_key),
            timeout=1.0, connect_timeout=0.3,
        )  # fmt: skip

    def leader(self) -> str | None:
        try:
            kv = self.store().get(store_keys.leader_key(PODPLAY_CLUSTER))
        except StoreError:
            return None
        return Leader.from_bytes(kv.value, "leader").node if kv else None

    def observe(self, survivors: Sequence[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The survivors' pods (their agents) and proxy statuses, asked at once."""
        assert self.access is not None
        access = replace(self.access, nodes=tuple(n for n in self.access.nodes
                                                  if n.name in survivors))  # fmt: skip
        proxies: dict[str, Any] = {}
        containers = {n.name: n.container for n in self.cluster().nodes}

        def read(node: str) -> None:
            text = in_node(containers[node], "cat", "/run/podplay/proxy.json", check=False)
            try:
                proxies[node] = json.loads(text) if text else None
            except ValueError:
                proxies[node] = None

        threads = [threading.Thread(target=read, args=(n,)) for n in survivors]
        for t in threads:
            t.start()
        pods, _unreachable = pods_by_node(access)
        for t in threads:
            t.join()
        return pods, proxies

    def round(self, leader: bool) -> float:
        """Stop a worker (or the leader's node); seconds until 3 pods are ready and routed
        on the survivors."""
        nodes = [n.name for n in self.cluster().nodes]
        pods, _ = self.observe(nodes)
        holder = self.leader()
        if leader:
            victim = holder
        else:
            busy = {p["node"] for p in pods if p["name"].startswith("web-")}
            victim = next((n for n in nodes if n in busy and n != holder), None)
        if victim is None:
            raise SystemExit("podplay: no node to stop (no leader, or no worker runs a pod)")
        container = self.cluster().node(victim).container
        survivors = [n for n in nodes if n != victim]
        started = time.monotonic()
        stopping = stop_in_background(container)
        seconds = None
        while time.monotonic() - started < ROUND_TIMEOUT:
            if recovered(*self.observe(survivors), survivors):
                seconds = time.monotonic() - started
                break
            time.sleep(POLL)
        stopping.join()
        self.restore(container, nodes)
        if seconds is None:
            raise SystemExit(f"podplay: no 3 pods on the survivors within {ROUND_TIMEOUT:.0f} s")
        return seconds

    def restore(self, container: str, nodes: list[str]) -> None:
        run(["docker", "start", container])

        def settled() -> bool:
            pods, proxies = self.observe(nodes)
            every = ready_pods(pods, "web-", nodes)
            return len(every) == REPLICAS and recovered(pods, proxies, nodes)

        wait_for("the node back and exactly 3 pods routed", settled, 120)

    def memory(self) -> dict[str, tuple[float, float]]:
        """(etcd, podplay-controller) resident MB per node (0 where it does not run)."""
        return {
            n.name: (_rss(n.container, "etcd"), _rss(n.container, "podplay-controller"))
            for n in self.cluster().nodes
        }


def _rss(container: str, unit: str) -> float:
    pid = in_node(container, "systemctl", "show", "-p", "MainPID", "--value", unit, check=False)
    if not pid.strip() or pid.strip() == "0":
        return 0.0
    rss = in_node(container, "ps", "-o", "rss=", "-p", pid.strip(), check=False).strip()
    return int(rss) / 1024 if rss else 0.0


# -- the table ----------------------------------------------------------------------------------


def row(label: str, values: list[float], target: str) -> str:
    if not values:
        return f"{label:<46} {'-':>6} {'-':>7}   {target}"
    return f"{label:<46} {min(values):6.1f} {statistics.median(values):7.1f}   {target}"


def report(results: dict[str, list[float]], notes: list[str], memory: dict, loads: list) -> str:
    lines = [f"{'measure (seconds; n rounds)':<46} {'min':>6} {'median':>7}   target"]
    worker, boss, swarm = results["podplay"], results["leader"], results["swarm"]
    lines.append(row(f"podplay: worker stopped -> 3 pods ({len(worker)})", worker,
                     f"median <= {TARGETS['podplay']:.0f} s"))  # fmt: skip
    lines.append(row(f"podplay: leader's node stopped -> 3 pods ({len(boss)})", boss,
                     f"median <= {TARGETS['leader']:.0f} s"))  # fmt: skip
    lines.append(row(f"Docker Swarm: worker stopped -> 3 tasks ({len(swarm)})", swarm, ""))
    if worker and swarm:
        ratio = statistics.median(worker) / statistics.median(swarm)
        lines.append(f"{'ratio podplay/Swarm (medians)':<46} {'':>6} {ratio:7.2f}   "
                     f"<= {TARGETS['ratio']}")  # fmt: skip
    for node, (etcd, controller) in sorted(memory.items()):
        lines.append(f"{'memory ' + node + ': etcd + controller (MB)':<46} {'':>6} "
                     f"{etcd + controller:7.0f}   < {TARGETS['memory']:.0f} MB "
                     f"({etcd:.0f} + {controller:.0f})")  # fmt: skip
    for when, (one, five, fifteen) in loads:
        lines.append(f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=("podplay", "swarm"))
    ap.add_argument("--keep", action="store_true", help="keep both clusters afterwards")
    args = ap.parse_args()
    results: dict[str, list[float]] = {"podplay": [], "leader": [], "swarm": []}
    notes: list[str] = []
    loads = [("at start", os.getloadavg())]
    memory: dict[str, tuple[float, float]] = {}
    swarm = Swarm() if args.only != "podplay" else None
    with tempfile.TemporaryDirectory(prefix="ppbench-fail-") as tmp:
        ours = Podplay(Path(tmp)) if args.only != "swarm" else None
        try:
            for name in (SWARM_CLUSTER, PODPLAY_CLUSTER):
                substrate.delete_cluster(name)
            if swarm is not None:
                swarm.create()
            if ours is not None:
                ours.create()
                why = ours.has_control_plane()
                if why:
                    notes.append(f"podplay half not measured: {why}")
                    ours = None
            for _ in range(args.rounds):  # alternating, so both see the same background
                if swarm is not None:
                    results["swarm"].append(swarm.round())
                if ours is not None:
                    results["podplay"].append(ours.round(leader=False))
                    results["leader"].append(ours.round(leader=True))
            if ours is not None:
                memory = ours.memory()
        finally:
            loads.append(("at end", os.getloadavg()))
            if not args.keep:
                for name in (SWARM_CLUSTER, PODPLAY_CLUSTER):
                    substrate.delete_cluster(name)
    print(report(results, notes, memory, loads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
