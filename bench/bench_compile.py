"""Benchmark: `podplay compile` end to end, as a user runs it (target: < 3 s at 100 nodes,
5,000 pods, 1,000 services).

    .venv/bin/python bench/bench_compile.py [--rounds 5] [--profile]

Each round is a fresh process (`python -m podplay.cli.main compile app.py --facts
facts.json -o out`): interpreter start, imports, evaluating the program, planning,
rendering, the cluster's certificates and writing the files all count. The first round runs
on a new `PODPLAY_HOME` and a new output directory (it makes the CA and 100 node
certificates and writes every file) and is reported on its own; the rounds after it
recompile into the same directory, as a user does after a change (`--fresh` gives every
round a new output directory and certificates). bench_plan.py times plan + render alone, in
one process.

Figures: wall-clock and CPU seconds (user + system) of each process, min and median, and the
load average before and after. `PYTHONPATH=<another tree>/dsl` times another podplay's
code with the same program (before/after comparisons).

`--profile` adds one round under cProfile (top functions by cumulative time) and one with
`python -X importtime` (the slowest imports), to see where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NODES, DEPLOYMENTS, REPLICAS, SERVICES = 100, 200, 25, 1000
TARGET = 3.0
TYPES = ["ClusterIP", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]

PROGRAM = f"""\
import podplay as pp

pp.Cluster("bench", nodes={NODES}, lb_pool="172.31.0.0/20")
image = pp.Image("app", context="images/app")
for d in range({DEPLOYMENTS}):
    pp.Deployment(
        f"app{{d}}",
        replicas={REPLICAS},
        containers=[
            pp.Container(
                "app",
                image=image,
                ports=[8080],
                env={{"INDEX": str(d)}},
                readiness=pp.HttpProbe("/healthz", 8080),
                resources=pp.Resources(cpu="10m", memory="16Mi"),
            )
        ],
    )
types = {TYPES!r}
for s in range({SERVICES}):
    kind = types[s % len(types)]
    if kind == "ExternalName":
        pp.Service(f"svc{{s}}", type=kind, external_name=f"ext{{s}}.example.test")
    else:
        pp.Service(f"svc{{s}}", type=kind, selector={{"app": f"app{{s % {DEPLOYMENTS}}}"}},
                   ports=[80])
"""


def facts() -> dict[str, object]:
    """The nodes as an inventory would give them (addresses known: certificates are made)."""
    nodes = []
    for i in range(1, NODES + 1):
        address = f"172.30.{i // 200}.{10 + i % 200}"
        nodes.append(
            {
                "name": f"node{i}",
                "address": address,
                "pod_cidr": f"10.244.{i}.0/24",
                "connection": {"ansible_host": address, "ansible_user": "root"},
            }
        )
    return {"nodes": nodes, "lb_pool": "172.31.0.0/20"}


def project(root: Path) -> None:
    """The program, its image context and the facts file."""
    (root / "images" / "app").mkdir(parents=True)
    (root / "images" / "app" / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    (root / "images" / "app" / "app").write_text("#!/bin/sh\n")
    (root / "app.py").write_text(PROGRAM)
    (root / "facts.json").write_text(json.dumps(facts()))


def command(*extra: str) -> list[str]:
    return [sys.executable, *extra, "-m", "podplay.cli.main", "compile", "app.py"]


@dataclass(frozen=True)
class Round:
    """One compile process: wall-clock seconds and the CPU seconds it used (user + system;
    less disturbed by the other work on a loaded machine than the wall clock)."""

    wall: float
    cpu: float


def run(
    root: Path, home: Path, out: str, *extra: str, code: str | None = None
) -> tuple[Round, subprocess.CompletedProcess]:
    """One compile in a fresh process (`code`: another tree's `dsl/` to import podplay from)."""
    env = {**os.environ, "PODPLAY_HOME": str(home)}
    if code is not None:
        env["PYTHONPATH"] = code
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [*command(*extra), "--facts", "facts.json", "-o", out],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"compile failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Round(wall, cpu), done


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def profile(root: Path, home: Path) -> None:
    """One round under cProfile and one with -X importtime: where the time goes."""
    stats = root / "compile.prof"
    run(root, home, "out", "-m", "cProfile", "-o", str(stats))
    import pstats

    print("\ncProfile of one recompile (cumulative, top 25):")
    pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(25)
    _, done = run(root, home, "out", "-X", "importtime")
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), len(m.group(3)), m.group(4)))
    top = sorted((r for r in rows if r[1] <= 3), reverse=True)[:20]
    print("slowest top-level imports (cumulative ms):")
    for us, _, name in top:
        print(f"  {us / 1000:8.1f}  {name}")


def summary(name: str, rounds: list[Round]) -> str:
    lines = [f"{name}:"]
    for what in ("wall", "cpu"):
        values = [getattr(r, what) for r in rounds]
        lines.append(
            f"  {what:>4}: min {min(values):.2f} s, median {statistics.median(values):.2f} s "
            f"({', '.join(f'{v:.2f}' for v in values)})"
        )
    return "\n".join(lines)


def measure(root: Path, rounds: int, fresh: bool, against: str | None) -> dict[str, list[Round]]:
    """`rounds` compiles of this tree (and of `against`, alternating, when given)."""
    trees = {"this tree": None} | ({f"against {against}": against} if against else {})
    out: dict[str, list[Round]] = {name: [] for name in trees}
    for i in range(rounds):
        for name, code in trees.items():
            home = root / ("home" if not fresh else f"home{i}-{len(out[name])}")
            target = "out" if not fresh else f"out-{i}-{len(out[name])}"
            out[name].append(run(root, home, target, code=code)[0])
            if fresh:
                shutil.rmtree(home, ignore_errors=True)
                shutil.rmtree(root / target, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="a new output dir and PKI each round")
    parser.add_argument("--profile", action="store_true", help="cProfile and -X importtime too")
    parser.add_argument(
        "--against", metavar="DSL_DIR", help="another podplay's dsl/ directory, rounds alternating"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-compile-"))
    try:
        project(root)
        home = root / "home"
        print(f"podplay compile: {NODES} nodes, {DEPLOYMENTS * REPLICAS} pods, {SERVICES} services")
        print(f"load average before: {load()}")
        first, done = run(root, home, "out")
        print(done.stdout.splitlines()[0])
        print(
            f"first compile (new home: CA + {NODES} certificates, every file written): "
            f"{first.wall:.2f} s wall, {first.cpu:.2f} s CPU"
        )
        kind = "a new output dir and certificates" if args.fresh else "recompiles into one dir"
        files = sum(1 for p in (root / "out").rglob("*") if p.is_file())
        print(f"{args.rounds} rounds, fresh process each, {kind} ({files} files):")
        results = measure(root, args.rounds, args.fresh, args.against)
        for name, rounds in results.items():
            print(summary(name, rounds))
        median = statistics.median(r.wall for r in results["this tree"])
        print(f"target < {TARGET} s (median wall): {'yes' if median < TARGET else 'NO'}")
        print(f"load average after: {load()}")
        if args.profile:
            profile(root, home)
        return 0 if median < TARGET else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
