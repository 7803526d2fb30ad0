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
from pathlib import Path

import pytest
from chaos_kit import proxy_ready_endpoints, write_program
from helpers import wait_until

from podplay.artifacts import bundle
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

PODPLAY = str(Path(sys.executable).parent / "podplay")
RUNNING_FOR = 2.0  # seconds an ansible-playbook has run when its podplay is killed
GONE_WITHIN = 5.0


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


def test_a_killed_up_leaves_no_ansible_playbook_and_the_next_up_is_clean(
    cluster: Cluster, tmp_path: Path
) -> None:
    program = write_program(tmp_path, cluster.name, len(cluster.nodes))
    env = {**os.environ, NODE_BUNDLE_ENV: str(bundle.ensure_bundle())}
    log = (tmp_path / "killed-up.log").open("wb")
    up = subprocess.Popen(
        [PODPLAY, "up", str(program), "-y"], stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        kill_once_a_playbook_runs(up, tmp_path)
        killed = time.monotonic()
        wait_until(
            lambda: not ansible_playbooks_of(tmp_path), timeout=GONE_WITHIN, interval=0.1,
            what="no ansible-playbook of the killed `up` left",
        )  # fmt: skip
        print(f"\nkilled up: its ansible-playbook gone {time.monotonic() - killed:.2f} s after")

        again = subprocess.run(
            [PODPLAY, "up", str(program), "-y"], capture_output=True, text=True, env=env,
            stdin=subprocess.DEVNULL, timeout=900, check=False,
        )  # fmt: skip
        assert again.returncode == 0, f"{again.stdout[-3000:]}\n{again.stderr}"
        assert "locked" not in again.stdout + again.stderr
        assert (tmp_path / ".podplay" / cluster.name / "outputs.json").exists()
        assert not (tmp_path / ".podplay" / cluster.name / "journal.json").exists()
        count = len(cluster.nodes)
        wait_until(
            lambda: all(len(proxy_ready_endpoints(n.container)) >= count for n in cluster.nodes),
            timeout=60, what="every pod routed on every node after the next up",
        )  # fmt: skip
    finally:
        if up.poll() is None:
            up.kill()
        log.close()
        for pid in ansible_playbooks_of(tmp_path):  # only if the test failed: leave nothing
            os.kill(pid, signal.SIGTERM)
        done = subprocess.run(
            [PODPLAY, "destroy", str(program), "-y", "--keep-cluster"], capture_output=True,
            text=True, env=env, stdin=subprocess.DEVNULL, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr}"
