"""Benchmark: how fast a node's network heals by itself, fault by fault (issue 12).

One local cluster of 3 nodes runs the chaos tests' app (one busybox httpd pod per node behind
a NodePort and a LoadBalancer service), put there with `podplay up`. Each fault is injected
ROUNDS times under a client loop from this machine (RATE new-connection requests a second to
each target) and undone; per fault the table shows the recovery time (from the fault's end to
the end of the last failed request) and the failed/sent requests after the fault ended and in
all, min and median over the rounds, with the load average. The faults and the client loop
are the chaos tests' own (tests/integration/chaos/chaos_kit.py), so the bench measures what
the tests assert. A new fault is one more `Fault` row in FAULTS.

Bounds asserted by the chaos tests: partition -> every request ok 10 s after the reconnect;
iptables flush -> every request ok 3 s after the flush.

    .venv/bin/python bench/bench_chaos.py [--rounds 3] [--cluster NAME] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration" / "chaos"))

from chaos_kit import (  # noqa: E402
    NODE_PORT,
    Load,
    Report,
    flush_iptables,
    load_average,
    node_sh,
    partition,
    proxy_ready_endpoints,
    write_program,
)

from podplay import substrate  # noqa: E402
from podplay.artifacts import bundle  # noqa: E402
from podplay.control.workspace import NODE_BUNDLE_ENV  # noqa: E402
from podplay.substrate import Cluster, Node  # noqa: E402

PODPLAY = str(Path(sys.executable).parent / "podplay")
PARTITION_SECONDS = 20.0
SETTLE = 2.0  # client loop running before the fault
AFTER = {"partition": 15.0, "flush": 8.0}  # client loop running after the fault ended


@dataclass(frozen=True)
class Target:
    cluster: Cluster
    lb_ip: str

    def lb_holder(self) -> Node:
        for node in self.cluster.nodes:
            if f"inet {self.lb_ip}/" in node_sh(node.container, "ip -o -4 addr show"):
                return node
        return self.cluster.nodes[0]

    def settled(self, timeout: float = 60) -> None:
        """Until every node's proxy routes to every pod again."""
        deadline = time.monotonic() + timeout
        want = len(self.cluster.nodes)
        while time.monotonic() < deadline:
            if all(len(proxy_ready_endpoints(n.container)) >= want for n in self.cluster.nodes):
                return
            time.sleep(0.5)
        raise RuntimeError("the cluster did not settle after the fault")


def run_partition(t: Target) -> Report:
    victim = t.lb_holder()
    load = Load({"NodePort": (victim.address, NODE_PORT), "LoadBalancer": (t.lb_ip, 80)})
    load.start()
    try:
        time.sleep(SETTLE)
        started = time.monotonic()
        with partition(t.cluster.network, victim.container, victim.address) as times:
            time.sleep(PARTITION_SECONDS)
        time.sleep(AFTER["partition"])
    finally:
        load.stop()
    return load.report(times["reconnected"], since=started)


def run_flush(t: Target) -> Report:
    victim = t.cluster.nodes[0]
    load = Load({"NodePort": (victim.address, NODE_PORT), "LoadBalancer": (t.lb_ip, 80)})
    load.start()
    try:
        time.sleep(SETTLE)
        started = time.monotonic()
        flushed = flush_iptables(victim.container)
        time.sleep(AFTER["flush"])
    finally:
        load.stop()
    return load.report(flushed, since=started)


@dataclass(frozen=True)
class Fault:
    name: str
    run: Callable[[Target], Report]


FAULTS = [
    Fault(f"partition {PARTITION_SECONDS:.0f} s (LB holder)", run_partition),
    Fault("iptables -t nat -F; iptables -F", run_flush),
]


def podplay(*args: str) -> None:
    done = subprocess.run([PODPLAY, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"podplay {' '.join(args)}: {done.stdout[-2000:]}{done.stderr}")


def fmt(values: list[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f}"


def table(results: dict[str, list[Report]], loads: dict[str, list[str]]) -> str:
    head = (
        f"{'fault':36} {'rounds':>6} {'recovery s min/med':>19} "
        f"{'failed after min/med':>21} {'sent after':>10} {'failed/sent all (med)':>22}  load"
    )
    lines = [head, "-" * len(head)]
    for name, reports in results.items():
        failed_all = statistics.median(r.failed for r in reports)
        sent_all = statistics.median(r.sent for r in reports)
        lines.append(
            f"{name:36} {len(reports):>6} {fmt([r.recovery for r in reports]):>19} "
            f"{fmt([r.failed_after for r in reports], 0):>21} "
            f"{statistics.median(r.sent_after for r in reports):>10.0f} "
            f"{f'{failed_all:.0f}/{sent_all:.0f}':>22}  {' | '.join(loads[name])}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cluster", default="pptest-benchchaos")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    os.environ[NODE_BUNDLE_ENV] = str(bundle.ensure_bundle())
    root = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    program = write_program(root, args.cluster, 3)
    substrate.delete_cluster(args.cluster)
    try:
        podplay("up", str(program), "-y")
        exports = json.loads((root / ".podplay" / args.cluster / "outputs.json").read_text())
        cluster = substrate.get_cluster(args.cluster)
        assert cluster is not None
        target = Target(cluster, str(exports["exports"]["lb_ip"]))
        target.settled()
        results: dict[str, list[Report]] = {}
        loads: dict[str, list[str]] = {}
        for fault in FAULTS:
            for _ in range(args.rounds):
                report = fault.run(target)
                results.setdefault(fault.name, []).append(report)
                loads.setdefault(fault.name, []).append(load_average().split()[0])
                print(f"{fault.name}: {report.line()}", file=sys.stderr)
                target.settled()
        print(table(results, loads))
    finally:
        if not args.keep:
            try:
                podplay("destroy", str(program), "-y")  # releases the cluster's owner record too
            finally:
                substrate.delete_cluster(args.cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
