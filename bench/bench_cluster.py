"""Benchmark: local cluster creation (1, 3, 5 nodes) and a no-op site.yml on 3 nodes.

Targets on a 2-core machine: 3 nodes created, SSH-reachable and configured <= 30 s; a no-op
site.yml <= 10 s. The node image must be cached (`make setup`); it is not part of the time.

    .venv/bin/python bench/bench_cluster.py [--sizes 1,3,5] [--noop-runs 3] [--mitogen]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from podplay import substrate
from podplay.build import node_image
from podplay.substrate import provision

PREFIX = "pptest-bench"


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    value = fn()
    return time.monotonic() - start, value


def bench_create(size: int) -> dict[str, float]:
    name = f"{PREFIX}{size}"
    substrate.delete_cluster(name)
    try:
        provision_s, _ = timed(lambda: substrate.create_cluster(name, size, configure=False))
        configure_s, result = timed(lambda: provision.configure_nodes(name))
        result.raise_for_failure("bench configure")
    finally:
        delete_s, _ = timed(lambda: substrate.delete_cluster(name))
    return {
        "provision": provision_s,
        "configure": configure_s,
        "total": provision_s + configure_s,
        "delete": delete_s,
    }


def bench_noop(runs: int) -> list[tuple[float, int]]:
    name = f"{PREFIX}noop"
    substrate.delete_cluster(name)
    try:
        substrate.create_cluster(name, 3, configure=False)
        provision.configure_nodes(name, "site.yml").raise_for_failure("bench first site.yml")
        out = []
        for _ in range(runs):
            seconds, result = timed(lambda: provision.configure_nodes(name, "site.yml"))
            result.raise_for_failure("bench no-op site.yml")
            out.append((seconds, result.changed))
            if result.changed:  # e.g. the node bundle changed under us (code edited meanwhile)
                print("changed:", [(e.host, e.task) for e in result.changed_tasks])
        return out
    finally:
        substrate.delete_cluster(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,3,5")
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--mitogen", action="store_true", help="use Mitogen when installed")
    args = parser.parse_args()
    if args.mitogen:
        os.environ["PODPLAY_MITOGEN"] = "1"
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
    noop = bench_noop(args.noop_runs)
    noop_s = [s for s, _ in noop]
    changed = {c for _, c in noop}

    print()
    print(f"{'what':<34} {'provision s':>11} {'configure s':>11} {'total s':>8} {'target':>8}"
          f" {'delete s':>8}")  # fmt: skip
    for what, prov, conf, total, target, delete in rows:
        print(f"{what:<34} {prov:>11.1f} {conf:>11.1f} {total:>8.1f} {target:>8} {delete:>8.1f}")
    print(
        f"{'no-op site.yml, 3 nodes (median)':<34} {'':>11} {statistics.median(noop_s):>11.1f} "
        f"{statistics.median(noop_s):>8.1f} {'<= 10 s':>8} {'':>8}"
    )
    print(f"\nno-op runs: {', '.join(f'{s:.1f}' for s in noop_s)} s; changed per run: {changed}")
    print(f"mitogen: {'on' if os.environ.get('PODPLAY_MITOGEN') == '1' else 'off'}")
    return 0 if changed == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
