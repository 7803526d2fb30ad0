"""Benchmark: local cluster creation (1, 3, 5 nodes) and a no-op site.yml on 3 nodes.

Targets on a 2-core machine: 3 nodes created, SSH-reachable and configured <= 30 s; a no-op
site.yml <= 10 s. The node image must be cached (`make setup`); it is not part of the time.

    [PODPLAY_NODE_BUNDLE=<a .pyz>] .venv/bin/python bench/bench_cluster.py [--sizes 1,3,5]
        [--noop-runs 3] [--no-mitogen]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from podplay import substrate
from podplay.artifacts import bundle, node_image
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.substrate import provision

PREFIX = "pptest-bench"
PINNED: dict[str, str] = {}  # one node bundle for the whole bench (the tree may be edited)


def configure(name: str, playbook: str = "nodes.yml"):  # type: ignore[no-untyped-def]
    return provision.configure_nodes(name, playbook, extra_vars=PINNED)


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    value = fn()
    return time.monotonic() - start, value


def bench_create(size: int) -> dict[str, float]:
    name = f"{PREFIX}{size}"
    substrate.delete_cluster(name)
    try:
        provision_s, _ = timed(lambda: substrate.create_cluster(name, size, configure=False))
        configure_s, result = timed(lambda: configure(name))
        result.raise_for_failure("bench configure")
    finally:
        delete_s, _ = timed(lambda: substrate.delete_cluster(name))
    return {
        "provision": provision_s,
        "configure": configure_s,
        "total": provision_s + configure_s,
        "delete": delete_s,
    }


def bench_noop(runs: int, playbooks: tuple[str, ...]) -> dict[str, list[tuple[float, int]]]:
    name = f"{PREFIX}noop"
    substrate.delete_cluster(name)
    try:
        substrate.create_cluster(name, 3, configure=False)
        configure(name, "site.yml").raise_for_failure("bench first site.yml")
        out: dict[str, list[tuple[float, int]]] = {}
        for playbook in playbooks:
            for _ in range(runs):
                seconds, result = timed(lambda p=playbook: configure(name, p))
                result.raise_for_failure(f"bench no-op {playbook}")
                out.setdefault(playbook, []).append((seconds, result.changed))
                if result.changed:
                    print("changed:", [(e.host, e.task) for e in result.changed_tasks])
        return out
    finally:
        substrate.delete_cluster(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,3,5")
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--no-mitogen", action="store_true", help="plain Ansible strategy")
    args = parser.parse_args()
    os.environ["PODPLAY_MITOGEN"] = "0" if args.no_mitogen else "1"
    # $PODPLAY_NODE_BUNDLE: another bundle to compare (e.g. one built from an older tree)
    PINNED["podplay_node_bundle"] = os.environ.get(NODE_BUNDLE_ENV) or str(bundle.ensure_bundle())
    print(f"node bundle {PINNED['podplay_node_bundle']}")
    image = node_image.ensure_node_image()
    state = "built now" if image.built else "cached"
    print(f"node image {image.ref} ({state}); cpus {os.cpu_count()}")

    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        r = bench_create(size)
        rows.append(
            (f"cluster create, {size} node(s)", r["provision"], r["configure"], r["total"],
             "<= 30 s" if size == 3 else "", r["delete"])
        )  # fmt: skip
    noop = bench_noop(args.noop_runs, ("nodes.yml", "site.yml"))

    print()
    print(f"{'what':<34} {'provision s':>11} {'configure s':>11} {'total s':>8} {'target':>8}"
          f" {'delete s':>8}")  # fmt: skip
    for what, prov, conf, total, target, delete in rows:
        print(f"{what:<34} {prov:>11.1f} {conf:>11.1f} {total:>8.1f} {target:>8} {delete:>8.1f}")
    changed: set[int] = set()
    for playbook, runs in noop.items():
        median = statistics.median(s for s, _ in runs)
        target = "<= 10 s" if playbook == "site.yml" else ""  # the target: site.yml
        label = f"no-op {playbook}, 3 nodes (median)"
        print(f"{label:<34} {'':>11} {median:>11.1f} {median:>8.1f} {target:>8} {'':>8}")
        changed |= {c for _, c in runs}
    print()
    for playbook, runs in noop.items():
        print(f"no-op {playbook} runs: {', '.join(f'{s:.1f}' for s, _ in runs)} s")
    print(f"changed per no-op run: {sorted(changed)}; load average {os.getloadavg()[0]:.1f}")
    print(f"mitogen: {'on' if os.environ.get('PODPLAY_MITOGEN') == '1' else 'off'}")
    print("(configure = playbooks/nodes.yml: node, runtime, network roles; site.yml adds the")
    print(" agent and service plays of the other stages)")
    return 0 if changed == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
