"""The real-hosts test's fixture: plain Debian hosts, made once per session, removed after.

`make test-hosts` runs this directory (not `make test`: see the README for its time). Like
the integration tests it takes the machine-wide lock in `make`, and names its cluster
`$PODPLAY_TEST_CLUSTER` (default `pphosts`). PODPLAY_TEST_KEEP=1 leaves the hosts running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hosts_kit
import pytest

from podplay import paths
from podplay.substrate import keys

CLUSTER = os.environ.get("PODPLAY_TEST_CLUSTER", "pphosts")
HOST_COUNT = 3


@dataclass(frozen=True)
class RealHosts:
    cluster: str
    hosts: list[hosts_kit.Host]
    key: Path  # the cluster's SSH key, which admin on every host trusts

    def ssh(self, host: hosts_kit.Host, command: str, check: bool = True) -> str:
        return hosts_kit.ssh(host, self.key, command, check)


@pytest.fixture(scope="session")
def real_hosts() -> Iterator[RealHosts]:
    hosts_kit.remove_hosts(CLUSTER)  # a killed run's leftovers
    _forget_cluster()
    image = hosts_kit.host_image()
    directory = keys.ensure_cluster_dir(paths.cluster_dir(CLUSTER))
    key = keys.ensure_ssh_key(directory, comment=f"podplay-{CLUSTER}")
    hosts: list[hosts_kit.Host] = []
    try:
        hosts = hosts_kit.start_hosts(CLUSTER, HOST_COUNT, image)
        for host in hosts:
            hosts_kit.authorize(host, keys.public_key(key))
        hosts_kit.trust_host_keys(hosts)
        yield RealHosts(CLUSTER, hosts, key)
    finally:
        if os.environ.get("PODPLAY_TEST_KEEP") != "1":
            hosts_kit.remove_hosts(CLUSTER)
            hosts_kit.forget_host_keys(h.address for h in hosts)
            _forget_cluster()


def _forget_cluster() -> None:
    """The cluster's secrets and, when $PODPLAY_HOME holds stacks, its stack's state."""
    shutil.rmtree(paths.cluster_dir(CLUSTER), ignore_errors=True)
    if os.environ.get("PODPLAY_HOME"):
        shutil.rmtree(paths.home() / "stacks" / CLUSTER, ignore_errors=True)
