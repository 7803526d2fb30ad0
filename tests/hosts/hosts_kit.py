"""Plain Debian hosts that podplay did not make, for the real-hosts test (issue 13, item 6).

Each host is a container of the `podplay/test-host` image (debootstrap of the node image's
Debian release with only systemd, sshd, python3 and sudo: `recipe/`), started with the same
capability set as node containers (ENVIRONMENT.md) because it must run systemd and, once
podplay has installed one, a Docker engine. The operator is `admin` with passwordless sudo;
its `authorized_keys` holds the cluster's public key, installed the way an operator (or
cloud-init) would, and the hosts' fresh host keys go into a known_hosts of a throw-away
$HOME, as a user accepting them would. Nothing else of podplay is on the hosts.

Everything made here carries the labels `io.podplay.cluster=<name>` and
`io.podplay.role=test-host`, so leftovers of a killed run are found and removed first.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from podplay.artifacts import node_image
from podplay.substrate import addressing, docker_provider

RECIPE_DIR = Path(__file__).resolve().parent / "recipe"
REPOSITORY = "podplay/test-host"
USER = "admin"
ROLE_LABEL = "io.podplay.role=test-host"
# The capability set of node containers (provision_local.yml, ENVIRONMENT.md), plus a
# writable /proc/sys as a real host has (the Docker CLI can ask for it; the SDK cannot).
RUN_FLAGS = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm",
    "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
    "--stop-signal", "SIGRTMIN+3", "-e", "container=docker",
]  # fmt: skip


@dataclass(frozen=True)
class Host:
    name: str
    container: str
    address: str


def sh(*cmd: str, input: str | None = None, timeout: float = 120) -> str:
    """Run a command on this machine; its stdout, or an AssertionError with its output."""
    done = subprocess.run(
        cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(cmd)}: rc={done.returncode}\n{done.stderr[-2000:]}"
    return done.stdout


def host_image(log=print) -> str:  # type: ignore[no-untyped-def]
    """The hosts' image, built offline like the node image and cached by its recipe's hash."""
    image = node_image.ensure_node_image(
        recipe_dir=RECIPE_DIR, repository=REPOSITORY, log=lambda m: log(f"host image: {m}")
    )
    return image.ref


def remove_hosts(cluster: str) -> None:
    """Every container and network labelled for this test's cluster (idempotent)."""
    labels = ["--filter", f"label=io.podplay.cluster={cluster}", "--filter", f"label={ROLE_LABEL}"]
    ids = sh("docker", "ps", "-aq", *labels).split()
    if ids:
        sh("docker", "rm", "-f", "-v", *ids)
    for net in sh("docker", "network", "ls", "-q", *labels).split():
        sh("docker", "network", "rm", net)


def apt_cache_dir(cluster: str, host: str) -> Path | None:
    """Where a host's downloaded .debs are kept between runs (a local apt proxy's job), or
    None when PODPLAY_HOSTS_APT_CACHE=0 asks for every package from the mirror."""
    if os.environ.get("PODPLAY_HOSTS_APT_CACHE", "1") == "0":
        return None
    from podplay import paths

    directory = paths.cache_dir() / "test-hosts-apt" / host
    (directory / "partial").mkdir(parents=True, exist_ok=True)
    return directory


def start_hosts(cluster: str, count: int, image: str) -> list[Host]:
    """A network on a free /24 and `count` host containers on it, booted, sshd answering."""
    cli = docker_provider.client()
    subnet = addressing.choose_subnet(docker_provider.used_subnets(cli))
    net = f"{cluster}-hosts"
    gateway = str(subnet.network_address + 1)
    labels = ["--label", f"io.podplay.cluster={cluster}", "--label", ROLE_LABEL]
    sh("docker", "network", "create", "--subnet", str(subnet), "--gateway", gateway, *labels, net)
    hosts = []
    for i in range(1, count + 1):
        host = Host(f"host{i}", f"{cluster}-host{i}", str(subnet.network_address + 10 + i))
        cache = apt_cache_dir(cluster, host.name)
        mounts = ["-v", f"{cache}:/var/cache/apt/archives"] if cache else []
        if Path("/lib/modules").is_dir():
            mounts += ["-v", "/lib/modules:/lib/modules:ro"]
        sh(
            "docker", "run", "-d", "--name", host.container, "--hostname", host.name,
            "--network", net, "--ip", host.address, *labels, *RUN_FLAGS,
            "-v", "/var/lib/docker", *mounts, image,
        )  # fmt: skip
        hosts.append(host)
    for host in hosts:
        wait_booted(host)
    return hosts


def wait_booted(host: Host, timeout: float = 120) -> None:
    """systemd has reached its default target and sshd takes connections."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["docker", "exec", host.container, "systemctl", "is-system-running", "--wait"],
            capture_output=True,
            text=True,
            check=False,
        )
        state = done.stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    assert state in ("running", "degraded"), f"{host.container} did not boot: {state!r}"
    while time.monotonic() < deadline:
        if subprocess.run(["ssh-keyscan", "-T", "2", host.address], capture_output=True).stdout:
            return
        time.sleep(0.5)
    raise AssertionError(f"sshd of {host.container} does not answer")


def authorize(host: Host, public_key: str) -> None:
    """The operator's step: the cluster's public key in admin's authorized_keys."""
    path = f"/home/{USER}/.ssh/authorized_keys"
    sh("docker", "exec", "-i", host.container, "sh", "-c",
       f"cat > {path} && chown {USER}:{USER} {path} && chmod 600 {path}",
       input=public_key.strip() + "\n")  # fmt: skip


def known_hosts_file() -> Path:
    """The known_hosts ssh reads (its home from the password database, not from $HOME)."""
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".ssh" / "known_hosts"


def trust_host_keys(hosts: list[Host]) -> None:
    """The user's step: the hosts' fresh keys accepted into ~/.ssh/known_hosts (host key
    checking stays on for real hosts). Entries for the same addresses go first."""
    forget_host_keys(h.address for h in hosts)
    keys = sh("ssh-keyscan", "-T", "5", *(h.address for h in hosts))
    path = known_hosts_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(keys)


def forget_host_keys(addresses: Iterable[str]) -> None:
    path = known_hosts_file()
    for address in addresses:
        if path.is_file():
            subprocess.run(["ssh-keygen", "-R", address, "-f", str(path)], capture_output=True)


def ssh(host: Host, key: Path, command: str, check: bool = True) -> str:
    """`command` on the host as admin over SSH, with the cluster's key, checking host keys."""
    done = subprocess.run(
        ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
         f"{USER}@{host.address}", command],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, f"{host.name}: {command}: rc={done.returncode}\n{done.stderr}"
    return done.stdout if done.returncode == 0 else f"rc={done.returncode} {done.stderr}"


def subnet_of(hosts: list[Host]) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{hosts[0].address}/24", strict=False)
