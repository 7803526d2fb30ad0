"""Benchmark: `podplay up` of the two-tier example, phase by phase, and what each one ran.

Three scenarios on one local cluster of 3 nodes (the node image cached, the app images not),
each round from scratch, min and median over the rounds:

- from nothing: no cluster, no app images (built, cluster created, converged, waited for;
  the engine's layer cache may still hold their layers: a cold build adds ~1 s per image);
- no-op: the same program again (nothing changed: no part of site.yml needs to run);
- scale 3->10: the frontend grows by seven pods (only the app part runs: pods and routing).

Targets on this 2-core machine (issue 11): from nothing <= 25 s, no-op <= 5 s, scale 3->10
<= 8 s. Prints one row per scenario with the seconds spent in each phase (evaluate, plan,
images, cluster, converge, wait; of the median run), min/median totals, the playbooks and
the roles each ran (read from the stats_json callback), the load average and the cores.

    .venv/bin/python bench/bench_up.py [--cluster NAME] [--keep] [--rounds N]
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
from typing import Any

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
SCENARIOS = ("from nothing", "no-op", "scale 3->10")
TARGETS = {"from nothing": 25.0, "no-op": 5.0, "scale 3->10": 8.0}


def up(program: Path) -> dict[str, Any]:
    """One `podplay up -y`, in process, timed per phase (no output), with what it ran."""
    started = time.monotonic()
    timer = Timer()
    stack = evaluate_program(str(program), timer)
    state = stack_state(str(program), default_stack(stack))
    with state.lock("bench_up"):
        prep = prepare(str(program), stack, state, build=True, timer=timer)
        result = apply(prep)
    ran = [f"{name}[{' '.join(r.roles_ran) or '-'}; {len(r.tasks_ran())} tasks]"
           for name, r in result.playbooks]  # fmt: skip
    return {
        **timer.seconds,
        "total": time.monotonic() - started,
        "changed": result.changed,
        "ran": "; ".join(ran) or "no playbook",
    }


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


def one_round(root: Path, cluster: str) -> dict[str, dict[str, Any]]:
    """From nothing, no-op and scale 3->10, on a cluster created by the first."""
    substrate.delete_cluster(cluster)
    remove_app_images()
    shutil.rmtree(root / "shop", ignore_errors=True)
    program = program_for(root, cluster, 3)
    rows = {"from nothing": up(program), "no-op": up(program)}
    rows["scale 3->10"] = up(program_for(root, cluster, 10))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="bench-up", help="cluster name (deleted first)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (min/median shown)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()

    os.environ[NODE_BUNDLE_ENV] = str(bundle.ensure_bundle())  # one bundle for every run
    rounds: list[dict[str, dict[str, Any]]] = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="podplay-bench-up-") as tmp:
        try:
            for _ in range(args.rounds):
                rounds.append(one_round(Path(tmp), args.cluster))
        finally:
            if not args.keep:
                substrate.delete_cluster(args.cluster)
                shutil.rmtree(paths.cluster_dir(args.cluster), ignore_errors=True)
    load_after = os.getloadavg()
    report(rounds, load, load_after)


def report(rounds: list[dict[str, dict[str, Any]]], before: tuple, after: tuple) -> None:
    """One row per scenario: the phases of its median run, min/median totals, what ran."""
    columns = [*PHASES, "min", "median", "target", "changed"]
    print(f"podplay up, examples/shop on 3 local nodes (seconds; {len(rounds)} rounds; "
          f"{os.cpu_count()} cores; load average {before[0]:.2f} before, "
          f"{after[0]:.2f} after)")  # fmt: skip
    print(f"{'scenario':<14}" + "".join(f"{c:>10}" for c in columns))
    for name in SCENARIOS:
        runs = sorted((r[name] for r in rounds), key=lambda row: row["total"])
        median_run = runs[(len(runs) - 1) // 2]
        median = statistics.median(r["total"] for r in runs)
        cells = [f"{median_run.get(p, 0.0):>10.2f}" for p in PHASES]
        cells += [f"{runs[0]['total']:>10.2f}", f"{median:>10.2f}"]
        mark = "ok" if median <= TARGETS[name] else "OVER"
        cells.append(f"{'<= ' + str(int(TARGETS[name])) + ' ' + mark:>10}")
        cells.append(f"{int(median_run['changed']):>10}")
        print(f"{name:<14}" + "".join(cells))
    for name in SCENARIOS:
        ran = sorted({r[name]["ran"] for r in rounds})
        print(f"  {name}: {' | '.join(ran)}")
        totals = ", ".join(f"{r[name]['total']:.2f}" for r in rounds)
        print(f"    totals: {totals}")


if __name__ == "__main__":
    main()
