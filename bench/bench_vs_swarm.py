"""Benchmark: changing an app, podplay against Docker Swarm, on the same node image, on one
machine, in one run, rounds alternating.

- podplay: a local 3-node cluster (`ppbench-vs`), put up first with no app.
- Docker Swarm: three containers of podplay's node image forming a swarm (the helpers of
  bench/failover_swarm.py), podplay's busybox image side-loaded into each engine.

Two measures, each round, each side in turn:

- deploy: a 3-replica busybox httpd app onto the running cluster, until all 3 serve.
  podplay: `podplay up` of the program with the app (a NodePort service), wall time, then
  until a request to every node's NodePort answers. Swarm: `docker service create
  --replicas 3` (attached: it returns once the tasks run), port 8080 published in host mode
  (the kernel here has no IPVS, so Swarm's routing mesh cannot run), then until every
  node's port answers. The app is removed again (not timed) before the next round.
- roll: the 3 replicas to a new environment value, while a client sends >= 50 requests a
  second round-robin over the three nodes (podplay: the NodePort; Swarm: port 8080 of each
  node), counting the requests that failed. podplay: `podplay up`; Swarm: `docker service
  update --env-add` (attached), both with their defaults (podplay: max_surge 1,
  max_unavailable 0, every new pod ready and routed everywhere before an old one leaves;
  Swarm: stop-first, one task at a time).

A node failure, the third measure issue 11 asks for, is bench/bench_failover.py (the same
two sides, alternating, with the control plane moving the dead node's pods).

Prints min and median per measure, the ratio podplay/Swarm of the medians, the failed
requests of both, which ansible-playbook runs each podplay `up` made, the load average and
the number of cores. Targets: deploy ratio <= 1.0, rollout ratio <= 1.0 with 0 failed
requests for podplay.

    .venv/bin/python bench/bench_vs_swarm.py [--rounds 3] [--keep]
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
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from podplay import substrate
from podplay.artifacts import images

sys.path.insert(0, str(Path(__file__).resolve().parent))  # failover_swarm beside this file
from failover_swarm import SERVE, SWARM_CLUSTER, Swarm, in_node, run, wait_for

PODPLAY = str(Path(sys.executable).parent / "podplay")
PODPLAY_CLUSTER = "ppbench-vs"
REPLICAS = 3
NODE_PORT = 30089
SWARM_PORT = 8080
RATE = 60.0  # client requests per second (the must-show asks for >= 50)
TIMEOUT = 600
PROGRAM = """\
import podplay as pp

pp.Cluster({cluster!r}, nodes=3)
"""
APP = """\
image = pp.Image("vs-web", context="web")
web = pp.Deployment("web", replicas={replicas}, containers=[
    pp.Container("web", image=image, ports=[8080], command=["sh", "-c", {serve!r}],
                 env={{"V": {value!r}}}, readiness=pp.HttpProbe("/", 8080, period=1))])
pp.Service("web", selector=web, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
"""


# -- a client at a steady rate, counting failures -------------------------------------------------


@dataclass(eq=False)  # a thread is hashed by identity
class ClientLoop(threading.Thread):
    """GET round-robin over `urls` at `rate` per second until stopped; failures counted."""

    urls: Sequence[str]
    rate: float = RATE
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, daemon=True)

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.is_set():
            url = self.urls[self.sent % len(self.urls)]
            due = started + self.sent / self.rate
            self.sent += 1
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    answer.read()
            except Exception as err:  # every failure counts, whatever it is
                self.failed.append(f"{url}: {err!r}"[:160])
            time.sleep(max(0.0, due + 1 / self.rate - time.monotonic()))
        self.seconds = time.monotonic() - started

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def serving(urls: Sequence[str]) -> bool:
    """Every URL answers 200 now."""
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status != 200:
                    return False
        except Exception:  # not serving yet, whatever the reason
            return False
    return True


def timed_until_serving(action: Callable[[], None], urls: Sequence[str]) -> float:
    """Seconds from the start of `action` until it returned and every URL answers."""
    started = time.monotonic()
    action()
    if not wait_for("every node serving", lambda: serving(urls), 120, poll=0.05):
        raise SystemExit(f"not serving within 120 s: {', '.join(urls)}")
    return time.monotonic() - started


@dataclass
class Roll:
    seconds: float
    sent: int
    failed: int
    rate: float
    first_failure: str = ""


def rolled(action: Callable[[], None], urls: Sequence[str]) -> Roll:
    """`action` timed while a client loop runs (from a second before to a second after)."""
    loop = ClientLoop(urls)
    loop.start()
    time.sleep(1.0)
    started = time.monotonic()
    try:
        action()
        seconds = time.monotonic() - started
        time.sleep(1.0)
    finally:
        loop.stop.set()
        loop.join(10)
    first = loop.failed[0] if loop.failed else ""
    return Roll(seconds, loop.sent, len(loop.failed), loop.per_second, first)


# -- podplay ------------------------------------------------------------------------------------


@dataclass
class Podplay:
    root: Path
    runs: list[str] = field(default_factory=list)  # what each timed up ran

    @property
    def program(self) -> Path:
        return self.root / "app.py"

    def write(self, value: str | None) -> None:
        text = PROGRAM.format(cluster=PODPLAY_CLUSTER)
        if value is not None:
            text += APP.format(replicas=REPLICAS, serve=SERVE, value=value, node_port=NODE_PORT)
        self.program.write_text(text)

    def create(self) -> None:
        (self.root / "web" / "www").mkdir(parents=True, exist_ok=True)
        (self.root / "web" / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY www /www\n'
        )
        (self.root / "web" / "www" / "index.html").write_text("vs\n")
        self.write("warm")  # the app's image built and side-loaded once, as Swarm's is
        self.up()
        self.remove()

    def up(self) -> None:
        run([PODPLAY, "up", str(self.program), "-y"], timeout=TIMEOUT, stdin=subprocess.DEVNULL)

    def last_up(self) -> str:
        path = self.root / ".podplay" / PODPLAY_CLUSTER / "last-up.json"
        doc = json.loads(path.read_text())
        books = ", ".join(f"{p['playbook']} {p['duration']:.1f} s" for p in doc["playbooks"])
        return f"{len(doc['playbooks'])} run(s): {books}"

    def urls(self) -> list[str]:
        found = substrate.get_cluster(PODPLAY_CLUSTER)
        assert found is not None
        return [f"http://{n.address}:{NODE_PORT}/" for n in found.nodes]

    def deploy(self, value: str) -> float:
        self.write(value)
        seconds = timed_until_serving(self.up, self.urls())
        self.runs.append(f"deploy: {self.last_up()}")
        return seconds

    def roll(self, value: str) -> Roll:
        self.write(value)
        result = rolled(self.up, self.urls())
        self.runs.append(f"roll: {self.last_up()}")
        return result

    def remove(self) -> None:
        self.write(None)
        self.up()


# -- Docker Swarm -------------------------------------------------------------------------------


@dataclass
class SwarmApp:
    swarm: Swarm = field(default_factory=Swarm)

    def create(self) -> None:
        self.swarm.create()  # forms the swarm (and runs failover's `web`: removed here)
        in_node(self.swarm.manager, "docker", "service", "rm", "web", check=False)

    def urls(self) -> list[str]:
        # busybox's httpd serves no directory without an index: a file every container has
        return [f"http://{a}:{SWARM_PORT}/hostname" for a in self.swarm.addresses.values()]

    def deploy(self, value: str) -> float:
        busybox = images.ensure_busybox_image()

        def create() -> None:
            in_node(self.swarm.manager, "docker", "service", "create", "--name", "app",
                    "--replicas", str(REPLICAS), "--no-resolve-image", "--quiet",
                    "--publish", f"mode=host,target=8080,published={SWARM_PORT}",
                    "--env", f"V={value}", busybox.ref, "sh", "-c",
                    SERVE.replace("-h /www", "-h /etc"), timeout=TIMEOUT)  # fmt: skip

        return timed_until_serving(create, self.urls())

    def roll(self, value: str) -> Roll:
        def update() -> None:
            in_node(self.swarm.manager, "docker", "service", "update", "--quiet",
                    "--env-add", f"V={value}", "app", timeout=TIMEOUT)  # fmt: skip

        return rolled(update, self.urls())

    def remove(self) -> None:
        in_node(self.swarm.manager, "docker", "service", "rm", "app", check=False)

        def gone() -> bool:
            return all(
                "app." not in in_node(c, "docker", "ps", "--format", "{{.Names}}", check=False)
                for c in self.swarm.containers
            )

        wait_for("the app's tasks gone", gone, 120)


# -- the table ----------------------------------------------------------------------------------


def row(label: str, values: Sequence[float], extra: str = "") -> str:
    if not values:
        return f"{label:<44} {'-':>7} {'-':>7}  {extra}"
    return f"{label:<44} {min(values):7.1f} {statistics.median(values):7.1f}  {extra}"


def ratio(label: str, ours: Sequence[float], theirs: Sequence[float], target: str) -> str:
    if not ours or not theirs:
        return f"{label:<44} {'':>7} {'-':>7}  {target}"
    value = statistics.median(ours) / statistics.median(theirs)
    return f"{label:<44} {'':>7} {value:7.2f}  {target}"


def report(
    deploys: dict[str, list[float]],
    rolls: dict[str, list[Roll]],
    runs: list[str],
    loads: list[tuple[str, tuple[float, float, float]]],
) -> str:
    lines = [f"{'measure (seconds; 3 nodes)':<44} {'min':>7} {'median':>7}"]
    for side in ("podplay", "swarm"):
        lines.append(row(f"deploy 3 replicas until all serve: {side}", deploys[side]))
    lines.append(ratio("deploy ratio podplay/Swarm", deploys["podplay"], deploys["swarm"],
                       "target <= 1.0"))  # fmt: skip
    for side in ("podplay", "swarm"):
        rs = rolls[side]
        failed = "/".join(str(r.failed) for r in rs)
        rate = min((r.rate for r in rs), default=0.0)
        lines.append(row(f"roll 3 replicas to a new env: {side}", [r.seconds for r in rs],
                         f"failed requests per round {failed or '-'} "
                         f"(of {sum(r.sent for r in rs)}, >= {rate:.0f} req/s)"))  # fmt: skip
    lines.append(ratio("rollout ratio podplay/Swarm",
                       [r.seconds for r in rolls["podplay"]],
                       [r.seconds for r in rolls["swarm"]],
                       "target <= 1.0, 0 failed for podplay"))  # fmt: skip
    for side in ("podplay", "swarm"):
        first = next((r.first_failure for r in rolls[side] if r.first_failure), "")
        if first:
            lines.append(f"first failed request ({side}): {first}")
    lines += [f"podplay {r}" for r in runs]
    lines.append(f"cores: {os.cpu_count()}")
    for when, (one, five, fifteen) in loads:
        lines.append(f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep both clusters afterwards")
    args = ap.parse_args()
    deploys: dict[str, list[float]] = {"podplay": [], "swarm": []}
    rolls: dict[str, list[Roll]] = {"podplay": [], "swarm": []}
    loads = [("at start", os.getloadavg())]
    swarm = SwarmApp()
    with tempfile.TemporaryDirectory(prefix="ppbench-vs-") as tmp:
        ours = Podplay(Path(tmp))
        try:
            for name in (SWARM_CLUSTER, PODPLAY_CLUSTER):
                substrate.delete_cluster(name)
            swarm.create()
            ours.create()
            for i in range(args.rounds):  # alternating, so both see the same background
                for side, app in (("swarm", swarm), ("podplay", ours)):
                    deploys[side].append(app.deploy(f"r{i}-a"))
                    rolls[side].append(app.roll(f"r{i}-b"))
                    app.remove()
                print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            loads.append(("at end", os.getloadavg()))
            if not args.keep:
                for name in (SWARM_CLUSTER, PODPLAY_CLUSTER):
                    substrate.delete_cluster(name)
    print(report(deploys, rolls, ours.runs, loads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
