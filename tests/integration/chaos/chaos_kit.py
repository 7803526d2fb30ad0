"""What the chaos tests and bench/bench_chaos.py share: the app, a client loop, the faults.

- `write_program`: one busybox httpd pod per node behind a ClusterIP, a NodePort and a
  LoadBalancer service (each answer names the pod), for `podplay up`.
- `Load`: client threads on this machine, each sending ~RATE new-connection HTTP requests a
  second to one URL; `Load.report(fault_end)` says what failed, and when the last failure
  after the fault ended was (the recovery time).
- faults, each undoing itself: `partition` (disconnect a node from the cluster network,
  connect it again with the same address), `flush_iptables` (`iptables -t nat -F;
  iptables -F` on a node).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

NODE_PORT = 30091
RATE = 25.0  # requests a second per target
TIMEOUT = 1.0

PROGRAM = """\
import podplay as pp

pp.Cluster({cluster!r}, nodes={nodes})

image = pp.Image("chaos-echo", context="echo")
echo = pp.Deployment(
    "echo",
    replicas={nodes},
    containers=[
        pp.Container(
            "echo",
            image=image,
            command=["sh", "-c", "hostname > /www/index.html; trap 'exit 0' TERM; "
                     "httpd -f -p 8080 -h /www & wait"],
            ports=[8080],
            readiness=pp.HttpProbe("/index.html", 8080, period=1),
        )
    ],
)
svc = pp.Service("echo", selector=echo, ports=[pp.ServicePort(80, target_port=8080)])
pp.Service("echo-np", selector=echo, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
lb = pp.Service("echo-lb", selector=echo, type="LoadBalancer",
                ports=[pp.ServicePort(80, target_port=8080)])
pp.export("cluster_ip", svc.cluster_ip)
pp.export("lb_ip", lb.external_ip)
"""

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY www /www
"""


def write_program(root: Path, cluster: str, nodes: int) -> Path:
    """The chaos app's program (and its image context) in `root`."""
    (root / "echo" / "www").mkdir(parents=True, exist_ok=True)
    (root / "echo" / "Dockerfile").write_text(DOCKERFILE)
    (root / "echo" / "www" / "index.html").write_text("starting\n")
    program = root / "chaos_app.py"
    program.write_text(PROGRAM.format(cluster=cluster, nodes=nodes, node_port=NODE_PORT))
    return program


# ---- the client loop ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    target: str
    started: float
    ended: float
    ok: bool
    error: str = ""


def request(host: str, port: int, timeout: float = TIMEOUT) -> str:
    """One GET / on a new connection; the body (a pod name), or raises."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/index.html", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace").strip()
        if resp.status != 200:
            raise OSError(f"HTTP {resp.status}")
        return body
    finally:
        conn.close()


@dataclass
class Report:
    """What the client loop saw around one fault."""

    sent: int
    failed: int
    sent_after: int  # requests started after the fault ended
    failed_after: int
    recovery: float  # seconds from the fault's end to the end of the last failed request
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"recovery {self.recovery:.2f} s, {self.failed}/{self.sent} failed in all, "
            f"{self.failed_after}/{self.sent_after} after the fault ended"
        )


class Load:
    """Client threads, one per target (`name` -> (host, port)), until `stop()`."""

    def __init__(self, targets: dict[str, tuple[str, int]], rate: float = RATE) -> None:
        self.targets = targets
        self.period = 1.0 / rate
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(name, *addr), daemon=True)
            for name, addr in targets.items()
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self, name: str, host: str, port: int) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                request(host, port)
                sample = Sample(name, started, time.monotonic(), True)
            except (OSError, http.client.HTTPException) as err:
                sample = Sample(name, started, time.monotonic(), False, str(err) or repr(err))
            with self._lock:
                self.samples.append(sample)
            self._stop.wait(max(0.0, self.period - (time.monotonic() - started)))

    def report(self, fault_end: float, since: float = 0.0) -> Report:
        """Figures for the samples started after `since`, the fault having ended at
        `fault_end` (monotonic seconds)."""
        with self._lock:
            samples = [s for s in self.samples if s.started >= since]
        after = [s for s in samples if s.started >= fault_end]
        failed_after = [s for s in after if not s.ok]
        recovery = max((s.ended - fault_end for s in failed_after), default=0.0)
        errors = sorted({f"{s.target}: {s.error}" for s in failed_after})
        return Report(
            sent=len(samples),
            failed=sum(not s.ok for s in samples),
            sent_after=len(after),
            failed_after=len(failed_after),
            recovery=round(recovery, 2),
            errors=errors[:10],
        )

    def failures_after(self, moment: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.started >= moment and not s.ok]


# ---- the faults -------------------------------------------------------------------------------


def docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def node_sh(container: str, cmd: str, timeout: float = 60) -> str:
    return docker("exec", container, "sh", "-c", cmd, timeout=timeout)


@contextlib.contextmanager
def partition(network: str, container: str, address: str) -> Iterator[dict[str, float]]:
    """The node is cut off from the cluster network while inside; connected again with the
    same address on leaving (even on failure). Yields {"reconnected": monotonic time}, set
    once it is back."""
    times: dict[str, float] = {}
    docker("network", "disconnect", network, container)
    try:
        yield times
    finally:
        docker("network", "connect", "--ip", address, network, container)
        times["reconnected"] = time.monotonic()


def flush_iptables(container: str) -> float:
    """`iptables -t nat -F; iptables -F` on the node; returns when it was done (monotonic)."""
    node_sh(container, "iptables -t nat -F && iptables -F")
    return time.monotonic()


def uplink(container: str, address: str) -> str:
    """The interface holding `address` on the node, found by the address."""
    for line in node_sh(container, "ip -o -4 addr show").splitlines():
        words = line.split()
        if "inet" in words and words[words.index("inet") + 1].split("/")[0] == address:
            return words[1].split("@")[0]
    return ""


def proxy_ready_endpoints(container: str) -> set[str]:
    try:
        status = json.loads(node_sh(container, "cat /run/podplay/proxy.json"))
    except (RuntimeError, ValueError):
        return set()
    return set(status.get("ready_endpoints", [])) if status.get("synced") else set()


def pod_dns(container: str, name: str, dns_ip: str) -> dict:
    """Ask cluster DNS for `name` (A) from the network namespace of a pod on the node; the
    answer as `podplay verify` reads it: `{"rcode": n, "answers": [[type, text], ...]}`.
    (busybox nslookup never asks for a bare name after the search list, so it cannot.)"""
    from podplay.verify.checks import A, dns_command

    sandbox = "docker ps -q --filter label=io.podplay.container=POD | head -1"
    cmd = (
        f"pid=$(docker inspect -f '{{{{.State.Pid}}}}' \"$({sandbox})\") && "
        f'nsenter -t "$pid" -n {dns_command(name, A, dns_ip)}'
    )
    return json.loads(node_sh(container, cmd))


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])
