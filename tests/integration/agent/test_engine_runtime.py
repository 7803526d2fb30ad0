"""The runtime role's second task (module engine_runtime) on a node whose engine lacks the
pods' OCI runtime, as a host with its own Docker engine has: check mode says so and changes
nothing; a real run registers crun in daemon.json beside the host's settings and reloads the
engine, which stops no container; a second run changes nothing."""

from __future__ import annotations

import json

import pytest
from helpers import node_exec, run_playbook

from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

NODE = "node3"
DAEMON_JSON = "/etc/docker/daemon.json"


def sh(cluster: Cluster, script: str) -> str:
    return node_exec(cluster, NODE, script, check=True).stdout.strip()


def runtimes(cluster: Cluster) -> set[str]:
    return set(json.loads(sh(cluster, "docker info -f '{{json .Runtimes}}'")))


def running(cluster: Cluster) -> dict[str, str]:
    """Every running container of the node -> when it started."""
    out = sh(cluster, "docker ps -q | xargs -r docker inspect -f '{{.Id}} {{.State.StartedAt}}'")
    return dict(line.split() for line in out.splitlines())


def runtime_role(cluster: Cluster, check: bool = False):  # type: ignore[no-untyped-def]
    result = run_playbook(
        cluster, "nodes.yml", tags=["runtime"], limit=NODE, check=check, diff=check
    )
    assert result.ok, result.output_tail
    return result


def test_the_runtime_role_registers_crun_with_a_reload_that_stops_nothing(
    cluster: Cluster,
) -> None:
    original = sh(cluster, f"cat {DAEMON_JSON}")
    doc = json.loads(original)
    assert doc["runtimes"]["crun"]["path"] == "/usr/bin/crun"  # the node image's
    # an empty map, not none: a reload keeps the runtimes when the file does not name any
    without = {**doc, "runtimes": {}}
    try:
        node_exec(cluster, NODE, f"cat > {DAEMON_JSON}", input=json.dumps(without), check=True)
        sh(cluster, "systemctl reload docker.service")
        dockerd = sh(cluster, "systemctl show -p MainPID --value docker.service")
        node_exec(cluster, NODE, "sleep 1")
        assert "crun" not in runtimes(cluster)
        before = running(cluster)

        check = runtime_role(cluster, check=True)
        assert check.changed == 1
        assert "crun" not in runtimes(cluster)
        assert json.loads(sh(cluster, f"cat {DAEMON_JSON}")) == without

        assert runtime_role(cluster).changed == 1
        assert "crun" in runtimes(cluster)
        after = json.loads(sh(cluster, f"cat {DAEMON_JSON}"))
        assert after == {**without, "runtimes": {"crun": {"path": "/usr/bin/crun"}}}
        # reloaded, not restarted: the same engine process, every container as it was
        assert sh(cluster, "systemctl show -p MainPID --value docker.service") == dockerd
        assert running(cluster) == before

        assert runtime_role(cluster).changed == 0
    finally:
        node_exec(cluster, NODE, f"cat > {DAEMON_JSON}", input=original, check=True)
        sh(cluster, "systemctl reload docker.service")
