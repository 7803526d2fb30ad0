"""Docker Swarm for bench/bench_failover.py: three containers of podplay's node image form a
swarm running one service; a round stops a worker and times the service back at full
strength on the survivors. Also the small process helpers both halves of the benchmark use.

Its containers carry the label `io.podplay.cluster=ppbench-swarm`, so
`podplay.substrate.delete_cluster("ppbench-swarm")` removes them with their network and
volumes.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from podplay.artifacts import images, node_image
from podplay.substrate import docker_provider

SWARM_CLUSTER = "ppbench-swarm"  # labels io.podplay.cluster=<this>: delete_cluster removes it
REPLICAS = 3
ROUND_TIMEOUT = 90.0
POLL = 0.1
SERVE = "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 120, **kw: Any) -> str:
    """A command's stdout; SystemExit naming it when it fails (and `check`)."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])} failed ({done.returncode}): {done.stderr[-800:]}")
    return done.stdout


def in_node(container: str, *argv: str, check: bool = True, timeout: float = 60) -> str:
    return run(["docker", "exec", container, *argv], check=check, timeout=timeout)


def stop_in_background(container: str) -> threading.Thread:
    """`docker stop` issued now; the caller's clock runs while the container shuts down."""
    thread = threading.Thread(
        target=run, args=(["docker", "stop", container],), kwargs={"check": False}, daemon=True
    )
    thread.start()
    return thread


def wait_for(what: str, ready: Callable[[], bool], timeout: float, poll: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(poll)
    print(f"  note: {what} not reached within {timeout:.0f} s", file=sys.stderr)
    return False


def parse_service_ps(text: str) -> list[tuple[str, str, str]]:
    """`docker service ps --format '{{.Node}}|{{.DesiredState}}|{{.CurrentState}}'` lines
    as (node, desired, current state word)."""
    out = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) == 3:
            out.append((parts[0].strip(), parts[1].strip(), parts[2].strip().split(" ")[0]))
    return out


def running_tasks(tasks: Iterable[tuple[str, str, str]], nodes: Iterable[str]) -> int:
    """Tasks meant to run and running on `nodes`."""
    wanted = set(nodes)
    return sum(1 for node, desired, state in tasks
               if node in wanted and desired == "Running" and state == "Running")  # fmt: skip


@dataclass
class Swarm:
    """Three node-image containers forming a swarm, running one service."""

    containers: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)

    @property
    def manager(self) -> str:
        return self.containers[0]

    def create(self) -> None:
        cli = docker_provider.client()
        image = node_image.ensure_node_image().ref
        privileged = docker_provider.detect_privileged(cli, image)
        label = f"io.podplay.cluster={SWARM_CLUSTER}"
        run(["docker", "network", "create", "--label", label, f"{SWARM_CLUSTER}-net"])
        for i in (1, 2, 3):
            name = f"{SWARM_CLUSTER}-node{i}"
            run(["docker", "volume", "create", "--label", label, f"{name}-docker"])
            flags = ["--privileged"] if privileged else [
                "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
                "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                "--device-cgroup-rule", "a *:* rwm",
            ]  # fmt: skip
            run([
                "docker", "run", "-d", "--name", name, "--hostname", f"swarm{i}",
                "--label", label, "--network", f"{SWARM_CLUSTER}-net", *flags,
                "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
                "-v", f"{name}-docker:/var/lib/docker", "-e", "container=docker",
                "--stop-signal", "SIGRTMIN+3", image,
            ])  # fmt: skip
            self.containers.append(name)
        for c in self.containers:
            wait_for(f"{c} booted", lambda c=c: self._engine_up(c), 120)
            self.addresses[c] = in_node(c, "hostname", "-i").split()[0]
        self._form()

    def _engine_up(self, container: str) -> bool:
        return in_node(container, "docker", "info", "-f", "{{.ServerVersion}}", check=False) != ""

    def _form(self) -> None:
        manager = self.manager
        in_node(manager, "docker", "swarm", "init", "--advertise-addr", self.addresses[manager])
        token = in_node(manager, "docker", "swarm", "join-token", "-q", "worker").strip()
        address = f"{self.addresses[manager]}:2377"
        for c in self.containers[1:]:
            in_node(c, "docker", "swarm", "join", "--token", token, address)
        busybox = images.ensure_busybox_image()
        for c in self.containers:
            with open(busybox.archive, "rb") as archive:
                run(["docker", "exec", "-i", c, "docker", "load", "-q"], stdin=archive)
        in_node(manager, "docker", "service", "create", "--name", "web", "--detach",
                "--replicas", str(REPLICAS), "--no-resolve-image", "--stop-grace-period", "1s",
                busybox.ref, "sh", "-c", SERVE.replace("-h /www", "-h /"))  # fmt: skip
        wait_for("3 swarm tasks spread", self.spread, 120)

    def tasks(self) -> list[tuple[str, str, str]]:
        text = in_node(self.manager, "docker", "service", "ps", "web", "--format",
                       "{{.Node}}|{{.DesiredState}}|{{.CurrentState}}", check=False)  # fmt: skip
        return parse_service_ps(text)

    def hostnames(self) -> dict[str, str]:
        return {c: f"swarm{i}" for i, c in enumerate(self.containers, start=1)}

    def spread(self) -> bool:
        names = self.hostnames().values()
        running = {n for n in names if running_tasks(self.tasks(), [n])}
        return len(running) == 3 and running_tasks(self.tasks(), names) == REPLICAS

    def round(self) -> float:
        """Stop a worker that runs a task; seconds until 3 tasks run on the survivors."""
        hosts = self.hostnames()
        tasks = self.tasks()
        victim = next(c for c in self.containers[1:] if running_tasks(tasks, [hosts[c]]))
        survivors = [hosts[c] for c in self.containers if c != victim]
        started = time.monotonic()
        stopping = stop_in_background(victim)
        seconds = None
        while time.monotonic() - started < ROUND_TIMEOUT:
            if running_tasks(self.tasks(), survivors) >= REPLICAS:
                seconds = time.monotonic() - started
                break
            time.sleep(POLL)
        stopping.join()
        self.restore(victim)
        if seconds is None:
            raise SystemExit(f"swarm: no 3 tasks on the survivors within {ROUND_TIMEOUT:.0f} s")
        return seconds

    def restore(self, victim: str) -> None:
        run(["docker", "start", victim])
        wait_for(f"{victim} engine", lambda: self._engine_up(victim), 120)
        host = self.hostnames()[victim]

        def node_ready() -> bool:
            out = in_node(self.manager, "docker", "node", "ls", "--format",
                          "{{.Hostname}} {{.Status}}", check=False)  # fmt: skip
            return f"{host} Ready" in out

        wait_for(f"{host} Ready in the swarm", node_ready, 120)
        in_node(self.manager, "docker", "service", "update", "--force", "--detach", "web")
        wait_for("3 swarm tasks spread again", self.spread, 120)
