"""Run one short command on nodes over SSH, with the connection details Ansible uses.

Waiting for routing means reading each node's proxy status (`/run/podplay/proxy.json`) a few
times a second; an Ansible task costs ~0.7 s, a plain `ssh` over a persistent connection a few
milliseconds. The connection comes from the plan's nodes (`ansible_host`, `ansible_user`,
`ansible_port`, `ansible_ssh_private_key_file`, `ansible_ssh_common_args`), so local node
containers and real hosts are reached the same way.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from podplay.node.contract import defaults
from podplay.plan import NodePlan

PROXY_STATUS = defaults.PROXY_STATUS_JSON
BASE_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=5")


@dataclass(frozen=True)
class Answer:
    """What a node's command printed, or why it could not run."""

    node: str
    rc: int
    stdout: str
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0


def ssh_argv(node: NodePlan, command: str) -> list[str]:
    """`ssh ... host command` for a node (pure: tested without SSH)."""
    c: Mapping[str, Any] = node.connection
    host = str(c.get("ansible_host") or node.address or node.name)
    argv = ["ssh", *BASE_OPTIONS]
    user = c.get("ansible_user")
    if user:
        argv += ["-l", str(user)]
    port = c.get("ansible_port")
    if port:
        argv += ["-p", str(port)]
    key = c.get("ansible_ssh_private_key_file")
    if key:
        argv += ["-i", str(key)]
    for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        extra = c.get(name)
        if extra:
            argv += shlex.split(str(extra))
    return [*argv, host, command]


def run_on(nodes: Sequence[NodePlan], command: str, timeout: float = 10) -> list[Answer]:
    """Run `command` on every node at once; each node's answer in order (never raises)."""

    def one(node: NodePlan) -> Answer:
        try:
            done = subprocess.run(
                ssh_argv(node, command),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return Answer(node.name, 255, "", str(err))
        return Answer(node.name, done.returncode, done.stdout, done.stderr.strip())

    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
        return list(pool.map(one, nodes))


def proxy_statuses(nodes: Sequence[NodePlan]) -> dict[str, dict[str, Any] | None]:
    """Each node's proxy status document, or None where it cannot be read yet."""
    out: dict[str, dict[str, Any] | None] = {}
    for answer in run_on(nodes, f"cat {PROXY_STATUS}"):
        try:
            out[answer.node] = json.loads(answer.stdout) if answer.ok else None
        except ValueError:
            out[answer.node] = None
    return out
