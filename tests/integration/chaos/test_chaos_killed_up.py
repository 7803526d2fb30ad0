"""A `podplay up` killed with SIGKILL leaves no converge behind (issue 12, item 4).

`podplay up` of the chaos app runs until one of its ansible-playbook runs has been going for
2 s; then the CLI gets SIGKILL (no cleanup can run). Within 5 s no ansible-playbook of that
stack may remain (the child gets SIGTERM from the kernel when its parent dies, and stops its
workers), and the next `up` takes the stack lock and converges cleanly. The app is destroyed
with `--keep-cluster` at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos_kit import node_sh, proxy_ready_endpoints, write_program
from helpers import wait_until

from podplay.artifacts import bundle
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

PODPLAY = str(Path(sys.executable).parent / "podplay")
RUNNING_FOR = 2.0  # seconds an ansible-playbook has run when its podplay is killed
GONE_WITHIN = 5.0
STATE = "/var/lib/podplay/agent-state.json"


def ansible_playbooks_of(root: Path) -> list[int]:
    """PIDs of live ansible-playbook processes (and their workers) of the stack in `root`
    (their command line names its build directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "ansible-playbook" in cmdline and str(root) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def kill_once_a_playbook_runs(up: subprocess.Popen[bytes], root: Path) -> None:
    """SIGKILL `up` once one ansible-playbook of it has been running RUNNING_FOR seconds."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert up.poll() is None, "podplay up ended before an ansible-playbook ran long enough"
        now = time.monotonic()
        for pid in ansible_playbooks_of(root):
            seen.setdefault(pid, now)
            if now - seen[pid] >= RUNNING_FOR:
                up.send_signal(signal.SIGKILL)
                up.wait()
                return
        time.sleep(0.1)
    raise AssertionError("no ansible-playbook of `podplay up` ran within 600 s")


class Stack:
    """The chaos app's program in its own directory (its state beside it), applied by `up`."""

    def __init__(self, cluster: Cluster, root: Path) -> None:
        self.cluster = cluster
        self.root = root
        self.program = write_program(root, cluster.name, len(cluster.nodes))
        self.env = {**os.environ, NODE_BUNDLE_ENV: str(bundle.ensure_bundle())}
        self.state = root / ".podplay" / cluster.name

    def podplay(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PODPLAY, *args, str(self.program), "-y"], capture_output=True, text=True,
            env=self.env, stdin=subprocess.DEVNULL, timeout=timeout, check=False,
        )  # fmt: skip

    def up(self) -> subprocess.CompletedProcess[str]:
        done = self.podplay("up")
        assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr}"
        return done


@pytest.fixture(scope="module")
def stack(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    app = Stack(cluster, tmp_path_factory.mktemp("killed-up"))
    try:
        yield app
    finally:
        for pid in ansible_playbooks_of(app.root):  # only if a test failed: leave nothing
            os.kill(pid, signal.SIGTERM)
        done = app.podplay("destroy", "--keep-cluster", timeout=600)
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr}"


def test_a_killed_up_leaves_no_ansible_playbook_and_the_next_up_is_clean(
    cluster: Cluster, stack: Stack
) -> None:
    with (stack.root / "killed-up.log").open("wb") as log:
        up = subprocess.Popen(
            [PODPLAY, "up", str(stack.program), "-y"], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=stack.env,
        )  # fmt: skip
        try:
            kill_once_a_playbook_runs(up, stack.root)
        finally:
            if up.poll() is None:
                up.kill()
                up.wait()
    killed = time.monotonic()
    wait_until(
        lambda: not ansible_playbooks_of(stack.root), timeout=GONE_WITHIN, interval=0.1,
        what="no ansible-playbook of the killed `up` left",
    )  # fmt: skip
    print(f"\nkilled up: its ansible-playbook gone {time.monotonic() - killed:.2f} s after")

    again = stack.up()
    assert "locked" not in again.stdout + again.stderr
    assert (stack.state / "outputs.json").exists()
    assert not (stack.state / "journal.json").exists()
    count = len(cluster.nodes)
    wait_until(
        lambda: all(len(proxy_ready_endpoints(n.container)) >= count for n in cluster.nodes),
        timeout=60, what="every pod routed on every node after the next up",
    )  # fmt: skip


def test_pod_manifests_and_the_agent_state_are_root_only_on_every_node(
    cluster: Cluster, stack: Stack
) -> None:
    """They carry the pods' env values (issue 12, item 8), as plan.json and host_vars do on
    this machine."""
    if not (stack.state / "outputs.json").exists():
        stack.up()
    build = stack.state / "build"
    for path in [build / "plan.json", *sorted((build / "host_vars").glob("*.yml"))]:
        assert path.stat().st_mode & 0o777 == 0o600, path
    for node in cluster.nodes:
        listing = node_sh(node.container, f"stat -c '%a %n' /etc/podplay/pods/*.json {STATE}")
        modes = dict(line.split(" ", 1)[::-1] for line in listing.splitlines())
        assert STATE in modes, listing
        assert len(modes) >= 2, listing  # one pod of the app per node, at least
        assert set(modes.values()) == {"600"}, f"{node.name}: {listing}"
