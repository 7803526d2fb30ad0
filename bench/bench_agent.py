"""Benchmark: the node agent on one local node.

- startup latency: a manifest written -> the pod Running and Ready (busybox httpd with an
  HTTP readiness probe; image present), median and p99 over 50 pods written one after
  another, and min/median/p99 for bursts of 10 and of 50 pods written at once (each with
  the load average right after it), each with the CPU the node's own processes (engine and
  agent) spent on it: that CPU spread over every core is a floor no burst can beat;
- the engine alone: the same pods made with `docker run` on the node, one at a time, and
  bursts of 10 and 50 made 8 at a time (as the agent's workers), with their node CPU. These
  use the engine's own networking (a sandbox on the `podplay` network) and its default OCI
  runtime (runc), which the agent no longer does (it plugs a sandbox without engine
  networking into the bridge itself, see podplay/node/agent/podnet.py, and runs pods under
  crun, agent.json `oci_runtime`): the rows show what those choices save;
- with `--vs-runc N`: N more rounds of the largest burst, the agent's OCI runtime (crun) and
  runc alternating (agent.json `oci_runtime` set, the agent restarted), p99 min/median each;
- agent restart: how long watchers of the node see no line (must stay under the 2 s after
  which they call the node gone), and whether any pod turned unready;
- idle cost with 30 pods: agent CPU (% of one core) and RSS.

Targets: p99 <= 2 s (one at a time); burst of 10: p99 <= 2 s; burst of 50: p99 <= 6 s;
idle CPU < 1 %; RSS < 60 MB.

    .venv/bin/python bench/bench_agent.py [--pods 50] [--idle-pods 30] [--idle-seconds 30]
        [--probe-period 10] [--vs-runc N] [--keep]

Uses its own one-node cluster `pptest-bench-agent` (made and deleted here; --keep keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from podplay import substrate
from podplay.artifacts import bundle, images
from podplay.control.agent_client import AgentClient, AgentError, access_from_inventory
from podplay.execute import run_playbook
from podplay.node.contract.agent import WORKERS  # pods the agent starts at once (default)

CLUSTER = "pptest-bench-agent"
BURST_TARGETS = {10: 2.0, 50: 6.0}  # burst size -> p99 seconds (issue 11)
NAMESPACE = "bench"
PODS_DIR = "/etc/podplay/pods"


def node_sh(container: str, script: str, data: bytes | None = None) -> str:
    done = subprocess.run(
        ["docker", "exec", "-i", container, "sh", "-c", script],
        input=data, capture_output=True, check=True,
    )  # fmt: skip
    return done.stdout.decode()


def manifest(i: int, prefix: str, image: str, period: float) -> dict[str, Any]:
    name = f"bench-{i}"
    return {
        "apiVersion": "podplay/v1", "kind": "Pod", "name": name, "namespace": NAMESPACE,
        "uid": f"bench-{i}-1", "labels": {"app": "bench"}, "template_hash": "b1",
        "ip": f"{prefix}.{10 + i}", "hostname": name, "restart_policy": "Always",
        "termination_grace_period": 1, "dns": None,
        "containers": [{
            "name": "web", "image": image,
            "command": ["sh", "-c", "echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"],
            "args": None, "env": {}, "ports": [{"container_port": 8080}],
            "resources": {"cpu_millis": 50, "memory_bytes": 16 * 1024 * 1024},
            "readiness": {"type": "http", "path": "/", "port": 8080, "period": period,
                          "timeout": 1, "failure_threshold": 3, "success_threshold": 1,
                          "initial_delay": 0},
            "liveness": None, "startup": None,
        }],
    }  # fmt: skip


class ReadyTimes(threading.Thread):
    """Follows the node's watch stream; records when each pod is first Running and Ready."""

    def __init__(self, client: AgentClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.ready: dict[str, float] = {}
        self.unready_seen: set[str] = set()
        self.last_line = time.monotonic()
        self.max_gap = 0.0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for event in self.client.watch(timeout=5):
                    now = time.monotonic()
                    with self.lock:
                        self.max_gap = max(self.max_gap, now - self.last_line)
                        self.last_line = now
                        if event["type"] == "snapshot":
                            for p in event["pods"]:
                                if p["phase"] == "Running" and p["ready"]:
                                    self.ready.setdefault(p["name"], now)
                                elif p["name"] in self.ready:
                                    self.unready_seen.add(p["name"])
                    if self.stop.is_set():
                        return
            except (AgentError, OSError, ValueError):
                time.sleep(0.05)

    def reset_gap(self) -> None:
        with self.lock:
            self.last_line = time.monotonic()
            self.max_gap = 0.0

    def wait(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(n in self.ready for n in names):
                    return
            time.sleep(0.01)
        raise SystemExit(f"pods not ready after {timeout}s: {set(names) - set(self.ready)}")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def write_pods(container: str, docs: list[dict[str, Any]]) -> None:
    """Write manifests atomically (temp + rename), all in one `docker exec`."""
    script = "set -e; " + "; ".join(
        f"printf '%s' '{json.dumps(d)}' > {PODS_DIR}/.{d['name']}.tmp" for d in docs
    ) + "; " + "; ".join(
        f"mv {PODS_DIR}/.{d['name']}.tmp {PODS_DIR}/{NAMESPACE}_{d['name']}.json" for d in docs
    )  # fmt: skip
    node_sh(container, script)


def burst(
    container: str, watch: ReadyTimes, docs: list[dict[str, Any]]
) -> tuple[list[float], str, float]:
    """Write `docs` at once: (seconds until each pod was ready, load average, node CPU)."""
    time.sleep(5)  # let the engine settle after the previous removals
    cpu0, t0 = node_cpu(container), time.monotonic()
    write_pods(container, docs)
    watch.wait([d["name"] for d in docs], 300)
    cpu = node_cpu(container) - cpu0
    times = [watch.ready[d["name"]] - t0 for d in docs]
    load = loadavg()
    clear_pods(container)
    time.sleep(1)  # the last snapshots of the removed pods are in
    with watch.lock:  # the next burst reuses the names: forget when these were ready
        for d in docs:
            watch.ready.pop(d["name"], None)
    return times, load, cpu


def set_oci_runtime(container: str, runtime: str) -> None:
    """agent.json's `oci_runtime` set, the agent restarted (its pods stay)."""
    script = (
        "import json; p = '/etc/podplay/agent.json'; d = json.load(open(p)); "
        f"d['oci_runtime'] = {runtime!r}; json.dump(d, open(p, 'w'))"
    )
    node_sh(container, f'python3 -c "{script}" && systemctl restart podplay-agent')
    time.sleep(3)


def compare_runtimes(
    container: str, watch: ReadyTimes, prefix: str, image: str, args: argparse.Namespace
) -> dict[str, list[tuple[float, str]]]:
    """`--vs-runc N` rounds of the largest burst, the configured runtime then runc:
    runtime -> [(p99, load)]."""
    out: dict[str, list[tuple[float, str]]] = {}
    if not args.vs_runc:
        return out
    configured = json.loads(node_sh(container, "cat /etc/podplay/agent.json")).get("oci_runtime")
    size = max(int(n) for n in args.bursts.split(","))
    docs = [manifest(100 + i, prefix, image, args.probe_period) for i in range(size)]
    try:
        for _ in range(args.vs_runc):
            for runtime in (configured or "", "runc"):
                set_oci_runtime(container, runtime)
                times, load, _cpu = burst(container, watch, docs)
                out.setdefault(runtime or "engine default", []).append((p99(times), load))
    finally:
        set_oci_runtime(container, configured or "")
    return out


def clear_pods(container: str) -> None:
    node_sh(container, f"rm -f {PODS_DIR}/{NAMESPACE}_*.json")
    deadline = time.monotonic() + 60
    while node_sh(container, f"docker ps -aq --filter label=io.podplay.namespace={NAMESPACE}"):
        if time.monotonic() > deadline:
            raise SystemExit("bench pods did not go away")
        time.sleep(0.5)


def docker_baseline(container: str, prefix: str, pause: str, image: str, runs: int) -> list[float]:
    """The same pod made by hand with the docker CLI on the node (no agent): sandbox, app,
    then poll the port. What the engine alone costs; the agent's overhead is the rest."""
    script = f"""
set -e
for i in $(seq 1 {runs}); do
  ip={prefix}.$((240 + i % 10))
  t0=$(date +%s.%N)
  sb=$(docker run -d --label bench=baseline --network podplay --ip $ip {pause})
  docker run -d --label bench=baseline --network container:$sb {image} \
    sh -c 'echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp' >/dev/null
  until printf 'GET / HTTP/1.0\r\n\r\n' | timeout 1 nc $ip 8080 2>/dev/null | grep -q 200; do
    sleep 0.02
  done
  t1=$(date +%s.%N)
  echo "$t0 $t1"
  docker rm -f $(docker ps -aq --filter label=bench=baseline) >/dev/null
done
"""
    out = node_sh(container, script)
    return [float(b) - float(a) for a, b in (line.split() for line in out.splitlines())]


# CPU seconds used so far by the node's own processes (dockerd, containerd, shims, runc,
# the agent; not the pods' apps on a cgroup v1 host, where they get cgroups of their own).
NODE_CPU = r"""
if [ -f /sys/fs/cgroup/cpu.stat ]; then
  awk '/^usage_usec/ {printf "%.3f\n", $2 / 1e6}' /sys/fs/cgroup/cpu.stat
else
  p=$(awk -F: '$2 ~ /cpuacct/ {print $3}' /proc/self/cgroup)
  awk '{printf "%.3f\n", $1 / 1e9}' /sys/fs/cgroup/cpuacct$p/cpuacct.usage
fi
"""


def node_cpu(container: str) -> float:
    return float(node_sh(container, NODE_CPU).strip())


def docker_burst_baseline(
    container: str, prefix: str, pause: str, image: str, size: int, parallel: int
) -> tuple[float, float]:
    """A burst made by hand with `docker run` on the node (no agent), `parallel` pods at a
    time (the agent's workers): (seconds until every pod answers, node CPU seconds). The
    engine's floor for a burst: the CLI adds some CPU of its own, the agent does not."""
    script = f"""
set -e
pod() {{
  sb=$(docker run -d --label bench=baseline --network podplay --ip {prefix}.$((100 + $1)) {pause})
  docker run -d --label bench=baseline --network container:$sb \
    --cpus 0.05 --memory 16m {image} \
    sh -c 'echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp' >/dev/null
  until printf 'GET / HTTP/1.0\r\n\r\n' | timeout 1 nc {prefix}.$((100 + $1)) 8080 2>/dev/null \
      | grep -q 200; do
    sleep 0.02
  done
}}
t0=$(date +%s.%N)
for i in $(seq 0 {size - 1}); do
  pod $i &
  while [ $(jobs -p | wc -l) -ge {parallel} ]; do sleep 0.01; done
done
wait
echo "$t0 $(date +%s.%N)"
"""
    cpu0 = node_cpu(container)
    a, b = node_sh(container, script).split()
    cpu = node_cpu(container) - cpu0
    node_sh(container, "docker rm -f $(docker ps -aq --filter label=bench=baseline) >/dev/null")
    return float(b) - float(a), cpu


def agent_usage(container: str, seconds: float) -> tuple[float, float]:
    """(CPU % of one core, RSS MB) of the agent process over `seconds`."""
    pid = node_sh(container, "systemctl show -p MainPID --value podplay-agent").strip()
    hz = int(node_sh(container, "getconf CLK_TCK").strip())

    def ticks() -> int:
        fields = node_sh(container, f"cat /proc/{pid}/stat").rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    t0, c0 = time.monotonic(), ticks()
    time.sleep(seconds)
    t1, c1 = time.monotonic(), ticks()
    rss_kb = next(
        int(line.split()[1])
        for line in node_sh(container, f"cat /proc/{pid}/status").splitlines()
        if line.startswith("VmRSS:")
    )
    return 100.0 * (c1 - c0) / hz / (t1 - t0), rss_kb / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=50, help="pods written one at a time")
    ap.add_argument(
        "--bursts", default="10,50", help="sizes of the bursts written at once (%(default)s)"
    )
    ap.add_argument("--idle-pods", type=int, default=30)
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument(
        "--probe-period",
        type=float,
        default=10.0,
        help="readiness probe period of the bench pods (Kubernetes' default: 10)",
    )
    ap.add_argument(
        "--vs-runc",
        type=int,
        default=0,
        metavar="N",
        help="N more rounds of the largest burst, the agent's OCI runtime and runc alternating",
    )
    ap.add_argument("--keep", action="store_true", help="keep the cluster afterwards")
    args = ap.parse_args()

    pause, busybox = images.ensure_pause_image(), images.ensure_busybox_image()
    cluster = substrate.get_cluster(CLUSTER)
    if cluster is None or len(cluster.nodes) != 1:
        substrate.delete_cluster(CLUSTER)
        cluster = substrate.create_cluster(CLUSTER, 1, configure=False)
    node = cluster.nodes[0]
    extra = {
        "podplay_node_bundle": str(bundle.ensure_bundle()),
        "podplay_pause_image": pause.as_var(),
        "podplay_images": [busybox.as_var()],
    }
    run_playbook("site.yml", cluster.inventory, extra, quiet=True).raise_for_failure("site.yml")
    # site.yml wrote an (empty) binding table into the store: an agent that has read a
    # table runs what it binds, not the files. Taken out, the manifest files rule again
    # (as after `destroy --keep-cluster`), which is what this bench writes.
    node_sh(node.container, "python3 /opt/podplay/podplay-node.pyz store clear-table")
    access = access_from_inventory(cluster.inventory, CLUSTER)
    client = access.client(access.nodes[0])
    prefix = node.pod_cidr.rsplit(".", 1)[0]
    rows: list[tuple[str, str, str]] = []
    try:
        clear_pods(node.container)
        baseline = docker_baseline(node.container, prefix, pause.ref, busybox.ref, 10)
        floors = []
        for size in (int(n) for n in args.bursts.split(",")):
            time.sleep(3)
            seconds, cpu = docker_burst_baseline(
                node.container, prefix, pause.ref, busybox.ref, size, WORKERS
            )
            floors.append((size, seconds, cpu, loadavg()))
        watch = ReadyTimes(client)
        watch.start()
        # 1. one at a time
        sequential = []
        for i in range(args.pods):
            doc = manifest(i, prefix, busybox.ref, args.probe_period)
            t0 = time.monotonic()
            write_pods(node.container, [doc])
            watch.wait([doc["name"]], 60)
            sequential.append(watch.ready[doc["name"]] - t0)
        clear_pods(node.container)
        # 2. bursts: N manifests written at once
        bursts = []
        for size in (int(n) for n in args.bursts.split(",")):
            docs = [manifest(100 + i, prefix, busybox.ref, args.probe_period)
                    for i in range(size)]  # fmt: skip
            bursts.append((size, *burst(node.container, watch, docs)))
        # 2b. the largest burst again, the agent's OCI runtime and runc alternating
        compared = compare_runtimes(node.container, watch, prefix, busybox.ref, args)
        # 3. idle with N pods, then an agent restart under watch
        idle_docs = [manifest(200 + i, prefix, busybox.ref, args.probe_period)
                     for i in range(args.idle_pods)]  # fmt: skip
        write_pods(node.container, idle_docs)
        watch.wait([d["name"] for d in idle_docs], 300)
        time.sleep(3)
        idle_cpu, rss = agent_usage(node.container, args.idle_seconds)
        watch.reset_gap()
        watch.unready_seen.clear()
        node_sh(node.container, "systemctl restart podplay-agent")
        time.sleep(6)
        gap, flapped = watch.max_gap, sorted(watch.unready_seen)
        watch.stop.set()
        clear_pods(node.container)
    finally:
        if not args.keep:
            substrate.delete_cluster(CLUSTER)

    def ms(v: float) -> str:
        return f"{v * 1000:.0f} ms"

    ok = "ok" if p99(sequential) <= 2.0 else "MISSED"
    rows += [
        ("engine alone, its networking: docker run sandbox + app, port answers (10 pods)",
         f"median {ms(statistics.median(baseline))}  p99 {ms(p99(baseline))}", "-"),
        (f"ready, one at a time ({args.pods} pods)",
         f"median {ms(statistics.median(sequential))}  p99 {ms(p99(sequential))}",
         f"p99 <= 2000 ms  {ok}"),
    ]  # fmt: skip
    cores = os.cpu_count() or 1
    for size, seconds, cpu, load in floors:
        rows.append((f"engine alone, its networking: burst of {size} by `docker run`, "
                     f"{WORKERS} at a time "
                     f"(load {load})",
                     f"all answer {ms(seconds)}  node CPU {cpu / size * 1000:.0f} ms/pod",
                     "-"))  # fmt: skip
    for size, times, load, cpu in bursts:
        target = BURST_TARGETS.get(size)
        verdict = (
            "-"
            if target is None
            else (f"p99 <= {target * 1000:.0f} ms  {'ok' if p99(times) <= target else 'MISSED'}")
        )
        rows.append((f"ready, burst of {size} at once (load {load})",
                     f"min {ms(min(times))}  median {ms(statistics.median(times))}  "
                     f"p99 {ms(p99(times))}", verdict))  # fmt: skip
        # every pod's engine work on every core, nothing else running: no burst ends sooner
        rows.append((f"  node CPU for the burst of {size} (engine + agent)",
                     f"{cpu:.1f} s = {cpu / size * 1000:.0f} ms/pod; / {cores} cores = "
                     f"{ms(cpu / cores)} floor", "-"))  # fmt: skip
    for runtime, runs in compared.items():
        values = [v for v, _ in runs]
        loads = ", ".join(load for _, load in runs)
        rows.append((f"  burst of {max(int(n) for n in args.bursts.split(','))} under "
                     f"{runtime}, {len(runs)} rounds alternating (loads {loads})",
                     f"p99 min {ms(min(values))}  median {ms(statistics.median(values))}",
                     "-"))  # fmt: skip
    rows += [
        (f"idle agent CPU ({args.idle_pods} pods, {args.idle_seconds:.0f} s)", f"{idle_cpu:.2f} %",
         f"< 1 %  {'ok' if idle_cpu < 1 else 'MISSED'}"),
        ("idle agent RSS", f"{rss:.1f} MB", f"< 60 MB  {'ok' if rss < 60 else 'MISSED'}"),
        ("agent restart: longest watch silence", ms(gap),
         f"< 2000 ms  {'ok' if gap < 2 else 'MISSED'}"),
        ("agent restart: pods seen unready", str(len(flapped)),
         f"0  {'ok' if not flapped else 'MISSED'}"),
    ]  # fmt: skip
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'measure':<{w0}}  {'value':<{w1}}  target")
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:<{w1}}  {c}")
    print(f"(probe period {args.probe_period:g} s; load average {loadavg()} "
          f"on {os.cpu_count()} cores)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
