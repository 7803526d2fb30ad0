"""Benchmark: service routing on a real node (targets: full sync < 1 s, one change < 100 ms,
requests/s through a ClusterIP >= 0.95 x straight to the pod IP).

    .venv/bin/python bench/bench_proxy.py [--cluster NAME] [--keep] [--seconds S]

1. Full sync of 1,000 services x 10 endpoints (half of them NodePorts), rendered by the
   proxy's own code and applied with ONE iptables-restore, inside a fresh network namespace
   of a node container: the node's real iptables (nf_tables backend) and kernel, isolated
   from the node's own rules. The first sync writes into empty tables; the later ones are
   full resyncs over the existing 1,000 chains (what a restart or a canary repair costs).
2. One endpoint change at that scale: full render + difference + apply of the one changed
   chain (what a pod turning unready costs on every node), median and worst of 20.
3. Requests/s: a busybox httpd pod on node2, a load generator (python3, one TCP connection
   per request, as the DNAT applies per connection; closed with RST so no TIME_WAIT
   collisions skew either side) running in a pod's network namespace on node1. The ratio
   is judged on rounds where the load generator's workers alternate the two paths request
   by request (median latency of a connection on each; one connection's requests/s is its
   inverse), so whatever else the machine does hits both alike and a costlier path shows at
   once. Each path alone (alternating rounds, medians) and both at once (half the workers
   each, which a GIL-bound client tends to equalise) are printed too.

The cluster (2 nodes, `ptbench` unless --cluster names an existing one) is created and
deleted by the benchmark unless it exists already or --keep is given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

from podplay import substrate
from podplay.artifacts import bundle, images
from podplay.execute import run_playbook

BUNDLE = "/opt/podplay/podplay-node.pyz"

SYNC_SCRIPT = textwrap.dedent(
    r"""
    import json, statistics, sys, time
    sys.path.insert(0, "/opt/podplay/podplay-node.pyz")
    from podplay.node.proxy.iptables import Iptables
    from podplay.node.proxy.rules import RenderCache, build_ruleset
    from podplay.node.proxy.ruleset import parse_save, restore_text
    from podplay.node.proxy.state import parse_agent_config, parse_cluster

    SERVICES, ENDPOINTS, NODES = 1000, 10, 10
    raw = {"nodes": [{"name": "node%d" % n, "address": "172.31.0.%d" % (10 + n),
                      "pod_cidr": "10.244.%d.0/24" % n} for n in range(1, NODES + 1)],
           "services": []}
    for s in range(SERVICES):
        eps = []
        for i in range(ENDPOINTS):
            n = (s + i) % NODES + 1
            eps.append({"pod": "app%d-%d" % (s, i), "namespace": "default", "node": "node%d" % n,
                        "ip": "10.244.%d.%d" % (n, 2 + (s * ENDPOINTS + i) // NODES % 250)})
        raw["services"].append({
            "name": "svc%d" % s, "namespace": "default",
            "type": "NodePort" if s % 2 else "ClusterIP",
            "cluster_ip": "10.96.%d.%d" % (s // 250 + 1, s % 250 + 2),
            "ports": [{"name": "http", "port": 80, "target_port": 8080,
                       "node_port": 30000 + s if s % 2 else None, "protocol": "TCP"}],
            "endpoints": eps})
    state = parse_cluster(raw)
    node = parse_agent_config({"node": "node1", "address": "172.31.0.11",
                               "pod_cidr": "10.244.1.0/24"})
    ready = frozenset(e for s in state.services for e in s.endpoints)
    ipt = Iptables()
    cache = RenderCache()  # as the running proxy keeps one
    out = {"full": [], "change": []}
    applied = None
    for _ in range(3):
        t0 = time.perf_counter()
        desired = build_ruleset(state, ready, node, cache)
        text = restore_text(desired, current=parse_save(ipt.save()))
        t1 = time.perf_counter()
        ipt.restore(text)
        t2 = time.perf_counter()
        applied = desired
        out["full"].append({"render": t1 - t0, "apply": t2 - t1, "total": t2 - t0,
                            "lines": text.count("\n")})
    out["rules"] = applied.rule_count()
    victim = state.services[500].endpoints[3]
    for i in range(20):
        now_ready = ready - {victim} if i % 2 == 0 else ready
        t0 = time.perf_counter()
        desired = build_ruleset(state, now_ready, node, cache)
        text = restore_text(desired, applied=applied)
        t1 = time.perf_counter()
        ipt.restore(text)
        t2 = time.perf_counter()
        applied = desired
        out["change"].append({"render": t1 - t0, "apply": t2 - t1, "total": t2 - t0,
                              "lines": text.count("\n")})
    print(json.dumps(out))
    """
)

LOAD_SCRIPT = textwrap.dedent(
    r"""
    import json, re, socket, statistics, struct, sys, threading, time
    # usage: - [--interleave] SECONDS HOST:PORT [HOST:PORT ...]; 4 workers per target, all at
    # the same time; --interleave: every worker alternates targets request by request
    interleave = sys.argv[1] == "--interleave"
    args = sys.argv[2:] if interleave else sys.argv[1:]
    seconds = float(args[0])
    targets = [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in args[1:]]
    request = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
    linger = struct.pack("ii", 1, 0)
    workers = [(k, t) for t in range(len(targets)) for k in range(4)]
    counts, errors = [0] * len(targets), [0] * len(targets)
    latency = [[] for _ in targets]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    def one(target):
        s = socket.create_connection(target, timeout=2)
        try:
            # close with RST once the body is in: neither side keeps TIME_WAIT, so no later
            # connection collides with an old one (that would cost a 1 s SYN retransmit and
            # measure TCP, not routing)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            s.sendall(request)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    raise OSError("short response")
                buf += chunk
            head, _, body = buf.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                chunk = s.recv(4096)
                if not chunk:
                    raise OSError("short body")
                body += chunk
        finally:
            s.close()
    def work(k, t):
        done, failed = [0] * len(targets), [0] * len(targets)
        i = k
        while time.monotonic() < stop:
            if interleave:
                t, i = i % len(targets), i + 1
            began = time.perf_counter()
            try:
                one(targets[t])
                done[t] += 1
                latency[t].append(time.perf_counter() - began)
            except OSError:
                failed[t] += 1
        with lock:
            for j in range(len(targets)):
                counts[j] += done[j]
                errors[j] += failed[j]
    threads = [threading.Thread(target=work, args=(k, t)) for k, t in workers]
    t0 = time.monotonic()
    for th in threads: th.start()
    for th in threads: th.join()
    took = time.monotonic() - t0
    print(json.dumps({"rps": [c / took for c in counts], "errors": sum(errors),
                      "median_s": [statistics.median(v) if v else None for v in latency]}))
    """
)


def docker_exec(container: str, argv: list[str], stdin: str = "", timeout: float = 300) -> str:
    done = subprocess.run(
        ["docker", "exec", "-i", container, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv} in {container} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def bench_sync(node_container: str) -> dict[str, Any]:
    """Parts 1 and 2, inside a throwaway network namespace of the node container."""
    ns = "ppbench"
    docker_exec(node_container, ["sh", "-c", f"ip netns del {ns} 2>/dev/null; ip netns add {ns}"])
    try:
        out = docker_exec(node_container, ["ip", "netns", "exec", ns, "python3", "-"], SYNC_SCRIPT)
    finally:
        docker_exec(node_container, ["ip", "netns", "del", ns])
    return json.loads(out)


def pod(name: str, ip: str, command: str, image: Any) -> dict[str, Any]:
    return {
        "apiVersion": "podplay/v1",
        "kind": "Pod",
        "name": name,
        "namespace": "default",
        "uid": f"bench-{name}",
        "labels": {"app": name},
        "owner": None,
        "template_hash": "bench",
        "ip": ip,
        "hostname": name,
        "restart_policy": "Always",
        "termination_grace_period": 1,
        "dns": {
            "nameservers": ["10.96.0.10"],
            "searches": ["default.svc.cluster.local"],
            "options": [],
        },
        "containers": [
            {
                "name": "main",
                "image": image.ref,
                "image_id": image.id,
                "command": ["sh", "-c", command],
                "args": None,
                "env": {},
                "ports": [],
                "resources": None,
                "readiness": None,
                "liveness": None,
                "startup": None,
            }
        ],
    }


def bench_requests(cluster: substrate.Cluster, seconds: float, rounds: int) -> dict[str, Any]:
    """Part 3: the same load through the ClusterIP and straight to the pod IP."""
    node1, node2 = cluster.nodes[0], cluster.nodes[1]
    busybox, pause = images.ensure_busybox_image(), images.ensure_pause_image()
    server_ip = node2.pod_cidr.replace(".0/24", ".200")
    client_ip = node1.pod_cidr.replace(".0/24", ".200")
    cluster_ip = "10.96.250.250"
    pods = {
        node1.name: [pod("bench-client", client_ip, "exec sleep 1000000", busybox)],
        node2.name: [
            pod(
                "bench-web",
                server_ip,
                "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www",
                busybox,
            )
        ],
    }
    service = {
        "name": "bench-web", "namespace": "default", "type": "ClusterIP",
        "cluster_ip": cluster_ip, "selector": {"app": "bench-web"},
        "ports": [{"name": "http", "port": 80, "target_port": 8080, "node_port": None,
                   "protocol": "TCP"}],
        "session_affinity": None, "affinity_timeout": 10800, "load_balancer_ip": None,
        "external_name": None,
        "endpoints": [{"pod": "bench-web", "namespace": "default", "node": node2.name,
                       "ip": server_ip}],
    }  # fmt: skip
    extra = {
        "podplay_node_bundle": str(bundle.ensure_bundle()),
        "podplay_pause_image": pause.as_var(),
        "podplay_images": [busybox.as_var()],
        "podplay_bench_pods": pods,
        "podplay_pods": "{{ podplay_bench_pods[inventory_hostname] | default([]) }}",
        "podplay_services": [service],
    }
    for play in ("agent.yml", "services.yml"):
        result = run_playbook(play, cluster.inventory, extra, quiet=True)
        if not result.ok:
            raise RuntimeError(f"{play} failed: {result.output_tail[-2000:]}")
    # the client pod's network namespace, entered with the node's python3
    pid = ""
    deadline = time.monotonic() + 60
    while not pid and time.monotonic() < deadline:
        pid = docker_exec(
            node1.container,
            ["sh", "-c", "docker inspect -f '{{.State.Pid}}' $(docker ps -q --filter "
             "label=io.podplay.pod=bench-client --filter label=io.podplay.container=POD) "
             "2>/dev/null || true"],
        ).strip()  # fmt: skip
        if not pid or pid == "0":
            pid = ""
            time.sleep(0.5)

    def load(secs: float, *targets: str, interleave: bool = False) -> dict[str, Any]:
        mode = ["--interleave"] if interleave else []
        cmd = ["nsenter", "-t", pid, "-n", "python3", "-", *mode, str(secs), *targets]
        return json.loads(docker_exec(node1.container, cmd, LOAD_SCRIPT))

    svc_target, ip_target = f"{cluster_ip}:80", f"{server_ip}:8080"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until routing and the server answer
        if load(0.5, svc_target)["rps"][0] > 0:
            break
        time.sleep(0.5)
    # A/B at the same time: both paths share the machine's load equally in every round, so
    # the ratio survives a busy machine; alone, one after the other, for the absolute figures
    together = [load(seconds, svc_target, ip_target) for _ in range(rounds)]
    # Interleaved, request by request: each connection's time on either path under the very
    # same load. The judged ratio (a path that costs more shows up here, whatever the load
    # generator's own limits); throughput of one connection = 1 / its latency.
    mixed = [load(seconds, svc_target, ip_target, interleave=True) for _ in range(rounds)]
    via_svc, via_ip = [], []
    for r in range(rounds):  # alternate which goes first, so drift in load cancels out
        pair = [(via_svc, svc_target), (via_ip, ip_target)]
        for bucket, target in pair if r % 2 == 0 else pair[::-1]:
            bucket.append(load(seconds, target))
    shared_svc = sum(r["rps"][0] for r in together) / rounds
    shared_ip = sum(r["rps"][1] for r in together) / rounds
    svc = statistics.median(r["rps"][0] for r in via_svc)
    direct = statistics.median(r["rps"][0] for r in via_ip)
    errors = sum(r["errors"] for r in via_svc + via_ip + together + mixed)
    lat_svc = statistics.median(r["median_s"][0] for r in mixed)
    lat_ip = statistics.median(r["median_s"][1] for r in mixed)
    # leave the cluster as we found it
    run_playbook("services.yml", cluster.inventory, {**extra, "podplay_services": []}, quiet=True)
    run_playbook("agent.yml", cluster.inventory, {**extra, "podplay_bench_pods": {}}, quiet=True)
    return {"cluster_ip": svc, "pod_ip": direct, "alone_ratio": svc / direct,
            "shared_cluster_ip": shared_svc, "shared_pod_ip": shared_ip,
            "ratio": shared_svc / shared_ip, "errors": errors, "rounds": rounds,
            "latency_cluster_ip": lat_svc, "latency_pod_ip": lat_ip,
            "latency_ratio": lat_ip / lat_svc,
            "seconds": seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cluster", default="ptbench")
    parser.add_argument("--keep", action="store_true", help="do not delete a cluster we made")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one load round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)

    cluster = substrate.get_cluster(args.cluster)
    made = cluster is None
    if made:
        print(f"creating cluster {args.cluster} (2 nodes) ...", file=sys.stderr)
        cluster = substrate.create_cluster(args.cluster, 2, configure=False)
        result = run_playbook(
            "site.yml",
            cluster.inventory,
            {"podplay_node_bundle": str(bundle.ensure_bundle())},
            quiet=True,
        )
        if not result.ok:
            raise SystemExit(f"site.yml failed: {result.output_tail[-2000:]}")
    load_before = os.getloadavg()[0]
    try:
        sync = bench_sync(cluster.nodes[0].container)
        rps = bench_requests(cluster, args.seconds, args.rounds)
    finally:
        if made and not args.keep:
            substrate.delete_cluster(args.cluster)

    full = sync["full"]
    change = sync["change"]
    med = statistics.median(c["total"] for c in change)
    worst = max(c["total"] for c in change)
    resync = max(f["total"] for f in full[1:])
    render_ms = statistics.median(c["render"] for c in change) * 1000
    apply_ms = statistics.median(c["apply"] for c in change) * 1000
    rows = [
        (
            "full sync, empty tables (render + apply)",
            full[0]["total"],
            f"{full[0]['render']:.3f} + {full[0]['apply']:.3f} s",
            "< 1 s",
            full[0]["total"] < 1,
        ),
        (
            "full resync, nothing changed",
            resync,
            f"{full[1]['render']:.3f} + {full[1]['apply']:.3f} s, {full[1]['lines']} lines",
            "< 1 s",
            resync < 1,
        ),
        (
            "one endpoint change (median of 20)",
            med,
            f"{render_ms:.0f} + {apply_ms:.0f} ms, {change[0]['lines']} lines",
            "< 100 ms",
            med < 0.1,
        ),
        ("one endpoint change (worst of 20)", worst, "", "", worst < 0.1),
    ]
    print(
        f"\nmachine: {os.cpu_count()} cores, load average {load_before:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after (other work on the machine inflates every figure)"
    )
    print(f"\nservice routing on {cluster.nodes[0].container}: 1,000 services x 10 endpoints, "
          f"{sync['rules']} rules, {full[0]['lines']} restore lines")  # fmt: skip
    print(f"{'measure':44} {'seconds':>9}  {'detail':32} {'target':>9}  ok")
    for name, secs, detail, target, ok in rows:
        print(f"{name:44} {secs:9.3f}  {detail:32} {target:>9}  {'yes' if ok else 'NO'}")
    print(
        f"\nrequests/s, one connection per request, pod on node1 -> httpd pod on node2, "
        f"{rps['rounds']} rounds of {rps['seconds']:.0f} s ({rps['errors']} errors)"
    )
    print(f"{'':44} {'alone':>9}  {'both at once':>12}")
    print(
        f"{'through the ClusterIP':44} {rps['cluster_ip']:9.0f}  {rps['shared_cluster_ip']:12.0f}"
    )
    print(f"{'straight to the pod IP':44} {rps['pod_ip']:9.0f}  {rps['shared_pod_ip']:12.0f}")
    print(f"{'ratio':44} {rps['alone_ratio']:9.3f}  {rps['ratio']:12.3f}")
    ok = rps["latency_ratio"] >= 0.95
    print(
        f"\nper connection, paths interleaved request by request (median latency; the judged "
        f"figure: 1/latency is one connection's requests/s)\n"
        f"{'through the ClusterIP':44} {rps['latency_cluster_ip'] * 1000:9.3f} ms\n"
        f"{'straight to the pod IP':44} {rps['latency_pod_ip'] * 1000:9.3f} ms\n"
        f"{'ratio (pod IP latency / ClusterIP latency)':44} {rps['latency_ratio']:9.3f}  "
        f"target >= 0.95  {'yes' if ok else 'NO'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
