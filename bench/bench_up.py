"""Benchmark: `podplay up` of the two-tier example, phase by phase.

Three scenarios on one local cluster of 3 nodes (the node image cached, the app images not):

- from nothing: no cluster, no app images (built, cluster created, converged, waited for;
  the engine's layer cache may still hold their layers: a cold build adds ~1 s per image);
- no-op: the same program again (nothing to change; the nodes are still converged);
- scale 3->5: the frontend grows by two pods.

Targets on this 2-core machine: < 90 s, < 10 s, < 15 s. Prints one row per scenario with the
seconds spent in each phase (evaluate, plan, images, cluster, converge, wait) and the total.

    .venv/bin/python bench/bench_up.py [--cluster NAME] [--keep] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from podplay import paths, substrate
from podplay.artifacts import bundle
from podplay.control.prepare import (
    PHASES,
    Timer,
    default_stack,
    evaluate_program,
    prepare,
    stack_state,
)
from podplay.control.up import apply
from podplay.control.workspace import NODE_BUNDLE_ENV

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"
TARGETS = {"from nothing": 90.0, "no-op": 10.0, "scale 3->5": 15.0}


def up(program: Path) -> dict[str, float]:
    """One `podplay up -y`, in process, timed per phase (no output)."""
    started = time.monotonic()
    timer = Timer()
    stack = evaluate_program(str(program), timer)
    state = stack_state(str(program), default_stack(stack))
    with state.lock("bench_up"):
        prep = prepare(str(program), stack, state, build=True, timer=timer)
        result = apply(prep)
    return {**timer.seconds, "total": time.monotonic() - started, "changed": result.changed}


def program_for(root: Path, cluster: str, frontend_replicas: int) -> Path:
    """The shop example, copied, its cluster renamed and its frontend scaled."""
    target = root / "shop"
    if not target.exists():
        shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".podplay"))
    text = (EXAMPLE / "app.py").read_text()
    text = text.replace('pp.Cluster("shop", nodes=3)', f'pp.Cluster("{cluster}", nodes=3)')
    text = re.sub(r'("frontend",\n    replicas=)3', rf"\g<1>{frontend_replicas}", text, count=1)
    assert f'"{cluster}"' in text and f"replicas={frontend_replicas}" in text
    (target / "app.py").write_text(text)
    return target / "app.py"


def remove_app_images() -> None:
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "podplay/shop-*"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if listed:
        subprocess.run(["docker", "rmi", "-f", *listed], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="bench-up", help="cluster name (deleted first)")
    parser.add_argument("--runs", type=int, default=3, help="no-op runs (median shown)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()

    os.environ[NODE_BUNDLE_ENV] = str(bundle.ensure_bundle())  # one bundle for every run
    substrate.delete_cluster(args.cluster)
    remove_app_images()
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="podplay-bench-up-") as tmp:
        root = Path(tmp)
        try:
            program = program_for(root, args.cluster, 3)
            rows.append(("from nothing", up(program)))
            noops = [up(program) for _ in range(args.runs)]
            median = sorted(noops, key=lambda r: r["total"])[len(noops) // 2]
            rows.append(("no-op", median))
            program = program_for(root, args.cluster, 5)
            rows.append(("scale 3->5", up(program)))
        finally:
            if not args.keep:
                substrate.delete_cluster(args.cluster)
                shutil.rmtree(paths.cluster_dir(args.cluster), ignore_errors=True)

    columns = [*PHASES, "total", "target", "changed"]
    print(f"podplay up, examples/shop on 3 local nodes (seconds; no-op: median of {args.runs})")
    print(f"{'scenario':<14}" + "".join(f"{c:>10}" for c in columns))
    for name, row in rows:
        cells = [f"{row.get(p, 0.0):>10.2f}" for p in PHASES]
        cells.append(f"{row['total']:>10.2f}")
        mark = "ok" if row["total"] < TARGETS[name] else "OVER"
        cells.append(f"{'< ' + str(int(TARGETS[name])) + ' ' + mark:>10}")
        cells.append(f"{int(row['changed']):>10}")
        print(f"{name:<14}" + "".join(cells))
    spread = [r["total"] for r in noops] if len(noops) > 1 else []
    if spread:
        print(f"no-op totals: {', '.join(f'{t:.2f}' for t in spread)} "
              f"(stdev {statistics.pstdev(spread):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
