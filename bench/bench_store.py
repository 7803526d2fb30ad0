"""Benchmark: the cluster's store (etcd) on three local nodes.

- leader lost: the leader's node frozen (`docker pause`: no goodbye, as a dead or cut-off
  node) -> seconds until another member reports a new leader and a write through it
  succeeds; then the node is thawed and the store healthy again;
- leader stopped: `systemctl stop etcd` on the leader (etcd hands leadership over first)
  -> the same measure;
- the shortest lease the store grants (asked for 1 s) and etcd's resident memory per member.

    .venv/bin/python bench/bench_store.py [--rounds 5] [--keep]

Uses its own three-node cluster `ppbench-store` (made and deleted here; --keep keeps it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from podplay import substrate
from podplay.artifacts import bundle, pki
from podplay.execute import run_playbook
from podplay.node.store import Store, StoreError
from podplay.substrate import Cluster

CLUSTER = "ppbench-store"
KEY = "/podplay/ppbench-store/bench"


def store_for(cluster: Cluster, nodes: list[str] | None = None) -> Store:
    certs = pki.Pki(pki.pki_dir(cluster.name))
    chosen = [n for n in cluster.nodes if nodes is None or n.name in nodes]
    return Store(
        [f"https://{n.address}:2379" for n in chosen],
        ca=str(certs.ca_cert),
        cert=str(certs.client_cert),
        key=str(certs.client_key),
        timeout=0.5,
        connect_timeout=0.3,
    )


def leader(cluster: Cluster) -> tuple[str, str]:
    """(node name, member id) of the current leader."""
    store = store_for(cluster)
    ids = {m["name"]: m["ID"] for m in store.members()}
    for node in cluster.nodes:
        try:
            status = store.status(f"https://{node.address}:2379")
        except StoreError:
            continue
        for name, member_id in ids.items():
            if member_id == status.get("leader"):
                return name, member_id
    raise SystemExit("no leader")


def new_leader_seconds(cluster: Cluster, old: str, old_id: str, started: float) -> float:
    """Poll the survivors until one names another leader and a write through them works."""
    survivors = [n for n in cluster.nodes if n.name != old]
    store = store_for(cluster, [n.name for n in survivors])
    deadline = started + 30
    while time.monotonic() < deadline:
        for node in survivors:
            try:
                status = store.status(f"https://{node.address}:2379")
                if status.get("leader") not in (None, "0", old_id):
                    store.put(KEY, str(time.time()))
                    return time.monotonic() - started
            except StoreError:
                pass
        time.sleep(0.02)
    raise SystemExit("no new leader within 30 s")


def wait_healthy(cluster: Cluster) -> None:
    store = store_for(cluster)
    deadline = time.monotonic() + 60
    while not all(store.health(f"https://{n.address}:2379")[0] for n in cluster.nodes):
        if time.monotonic() > deadline:
            raise SystemExit("store not healthy again within 60 s")
        time.sleep(0.2)


def round_paused(cluster: Cluster) -> float:
    name, member_id = leader(cluster)
    container = cluster.node(name).container
    subprocess.run(["docker", "pause", container], check=True, capture_output=True)
    started = time.monotonic()
    try:
        return new_leader_seconds(cluster, name, member_id, started)
    finally:
        subprocess.run(["docker", "unpause", container], check=True, capture_output=True)
        wait_healthy(cluster)


def round_stopped(cluster: Cluster) -> float:
    name, member_id = leader(cluster)
    container = cluster.node(name).container
    subprocess.run(["docker", "exec", container, "systemctl", "stop", "etcd"], check=True)
    started = time.monotonic()
    try:
        return new_leader_seconds(cluster, name, member_id, started)
    finally:
        subprocess.run(["docker", "exec", container, "systemctl", "start", "etcd"], check=True)
        wait_healthy(cluster)


def rss_mb(cluster: Cluster) -> list[float]:
    out = []
    for node in cluster.nodes:
        done = subprocess.run(
            ["docker", "exec", node.container, "ps", "-o", "rss=", "-C", "etcd"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        out.append(int(done.stdout.split()[0]) / 1024)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the cluster afterwards")
    args = ap.parse_args()
    substrate.delete_cluster(CLUSTER)
    cluster = substrate.create_cluster(CLUSTER, 3, configure=False)
    try:
        extra = {"podplay_node_bundle": str(bundle.ensure_bundle())}
        run_playbook("site.yml", cluster.inventory, extra, quiet=True).raise_for_failure("site")
        wait_healthy(cluster)
        paused = [round_paused(cluster) for _ in range(args.rounds)]
        stopped = [round_stopped(cluster) for _ in range(args.rounds)]
        store = store_for(cluster)
        lease = store.lease_grant(1)
        store.lease_revoke(lease.id)
        memory = rss_mb(cluster)
    finally:
        if not args.keep:
            substrate.delete_cluster(CLUSTER)
    print(f"{'measure':<44} {'min':>6} {'median':>7} {'max':>6}")
    for label, values in (
        ("leader's node frozen -> new leader, write (s)", paused),
        ("leader's etcd stopped -> new leader, write (s)", stopped),
    ):
        print(f"{label:<44} {min(values):6.2f} {statistics.median(values):7.2f} {max(values):6.2f}")
    print(f"{'shortest lease granted (asked for 1 s)':<44} {lease.ttl:6d} s")
    print(f"{'etcd RSS per member (MB)':<44} " + " ".join(f"{m:.0f}" for m in memory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
