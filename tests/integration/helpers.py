"""The shared integration-test harness: one local cluster per pytest process, and helpers.

Tests get the cluster from the `cluster` fixture (tests/integration/conftest.py and
tests/testinfra/conftest.py); everything here takes that `podplay.substrate.Cluster`.

    def test_something(cluster):
        res = node_exec(cluster, "node1", "ip route")          # docker exec, rc/stdout/stderr
        result = run_playbook(cluster, "site.yml")             # machine-readable PlaybookResult
        host = testinfra_host(cluster, "node2")                # testinfra over SSH (ansible://)
        load_image(cluster, images.ensure_busybox_image())     # side-load onto every node

Environment: PODPLAY_TEST_CLUSTER (name, default `pptest`), PODPLAY_TEST_NODES (default 3),
PODPLAY_TEST_REUSE=1 (reuse a running cluster of that name instead of recreating it),
PODPLAY_TEST_KEEP=1 (leave it running at the end).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from podplay import substrate
from podplay.artifacts import bundle
from podplay.execute import PlaybookResult
from podplay.execute import run_playbook as _run_playbook
from podplay.substrate import Cluster, Node

CLUSTER_NAME = os.environ.get("PODPLAY_TEST_CLUSTER", "pptest")
NODE_COUNT = int(os.environ.get("PODPLAY_TEST_NODES", "3"))
REUSE = os.environ.get("PODPLAY_TEST_REUSE") == "1"
KEEP = os.environ.get("PODPLAY_TEST_KEEP") == "1"

# ansible:// (testinfra) and ansible-playbook must be found next to this Python.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

T = TypeVar("T")
_SESSION: dict[str, Any] = {}  # per process: the cluster, the first site.yml result, the bundle


@dataclass(frozen=True)
class ExecResult:
    """What a command printed and returned."""

    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


def _node(cluster: Cluster, node: str | int | Node) -> Node:
    return node if isinstance(node, Node) else cluster.node(node)


def node_exec(
    cluster: Cluster,
    node: str | int | Node,
    cmd: str | Sequence[str],
    *,
    input: str | bytes | None = None,
    timeout: float = 60,
    check: bool = False,
) -> ExecResult:
    """Run `cmd` inside a node container (docker exec). A string runs under `sh -c`."""
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    data = input.encode() if isinstance(input, str) else input
    done = subprocess.run(
        ["docker", "exec", "-i", _node(cluster, node).container, *argv],
        input=data,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    result = ExecResult(
        done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )
    if check and not result.ok:
        raise AssertionError(f"{cmd!r} on {_node(cluster, node).name} failed: {result}")
    return result


def cluster_extra_vars(cluster: Cluster) -> dict[str, Any]:
    """Extra vars every test playbook run gets: the node bundle of the code under test, and
    the pod sandbox image (side-loaded by the agent role)."""
    from podplay.artifacts import images

    return {
        "podplay_node_bundle": str(bundle.ensure_bundle()),
        "podplay_pause_image": images.ensure_pause_image().as_var(),
    }


def run_playbook(
    cluster: Cluster,
    playbook: str | Path,
    extra_vars: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> PlaybookResult:
    """ansible-playbook over SSH with the cluster's inventory; output kept, not printed.

    `playbook` is a name in playbooks/ ("site.yml") or a path. Returns the machine-readable
    result: `.ok`, `.changed`, `.hosts[node].changed`, `.changed_tasks`, `.failures`.
    """
    kwargs.setdefault("quiet", True)
    kwargs.setdefault("forks", max(len(cluster.nodes), 5))
    merged = {**cluster_extra_vars(cluster), **(extra_vars or {})}
    return _run_playbook(playbook, cluster.inventory, merged, **kwargs)


def apply_pods_and_services(
    cluster: Cluster, pods: dict[str, list], svcs: list[dict], images: list, pods_var: str
) -> None:
    """agent.yml (pods: `pods` by node, handed over as `pods_var`) then services.yml
    (routing), as site.yml runs them; AssertionError with the output's tail on a failure."""
    extra = {
        "podplay_pause_image": images[0].as_var(),
        "podplay_images": [i.as_var() for i in images[1:]],
        pods_var: pods,
        "podplay_pods": "{{ " + pods_var + "[inventory_hostname] | default([]) }}",
        "podplay_services": svcs,
    }
    for play in ("agent.yml", "services.yml"):
        result = run_playbook(cluster, play, extra)
        if not result.ok:
            raise AssertionError(f"{play} failed:\n{result.output_tail[-3000:]}")


def pod_exec(cluster: Cluster, node: str, pod: str, cmd: str, timeout: float = 60) -> ExecResult:
    """`sh -c cmd` in the app container (named `web`) of a pod (docker exec on the node's
    engine)."""
    find = (
        f"docker ps -q --filter label=io.podplay.pod={pod} "
        "--filter label=io.podplay.container=web | head -1"
    )
    return node_exec(
        cluster, node, ["sh", "-c", f'exec docker exec -i "$({find})" sh -c "$0"', cmd],
        timeout=timeout,
    )  # fmt: skip


def testinfra_host(cluster: Cluster, node: str | int | Node) -> Any:
    """A testinfra Host for a node, over SSH with the cluster's inventory (ansible:// backend)."""
    import testinfra

    name = _node(cluster, node).name
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={cluster.inventory}")


def load_image(cluster: Cluster, image: Any, nodes: Sequence[str | int] | None = None) -> None:
    """Side-load an image onto nodes (all by default) that lack it: docker save | docker load.

    `image` is a `podplay.artifacts.images.BuiltImage` (its archive is used) or a local image ref.
    """
    targets = [cluster.node(n) for n in nodes] if nodes else list(cluster.nodes)
    ref = getattr(image, "ref", image)
    archive = getattr(image, "archive", None)
    for node in targets:
        if node_exec(cluster, node, ["docker", "image", "inspect", ref]).ok:
            continue
        if archive:
            with open(archive, "rb") as handle:
                data = handle.read()
        else:
            data = subprocess.run(["docker", "save", ref], capture_output=True, check=True).stdout
        loaded = node_exec(cluster, node, ["docker", "load", "-q"], input=data, timeout=120)
        assert loaded.ok, f"docker load of {ref} on {node.name} failed: {loaded.stderr}"


def outside_run(cluster: Cluster, image: Any, cmd: str, *, timeout: float = 60) -> ExecResult:
    """Run `sh -c cmd` in a throwaway container on the cluster network, outside every node
    (a client of NodePorts and LoadBalancer IPs, or a server that pods reach)."""
    ref = getattr(image, "ref", image)
    done = subprocess.run(
        [
            "docker", "run", "--rm", "--network", cluster.network,
            "--label", f"io.podplay.cluster={cluster.name}",
            ref, "sh", "-c", cmd,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )  # fmt: skip
    return ExecResult(done.returncode, done.stdout, done.stderr)


def wait_until(
    probe: Callable[[], T], *, timeout: float = 30, interval: float = 0.2, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: T = probe()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or probe}: {last!r}"
            )
        time.sleep(interval)
        last = probe()
    return last


# ---- one cluster per pytest process, shared by every conftest that offers `cluster` ----


def session_cluster(request: Any) -> Cluster:
    """Create (or reuse) the test cluster once per process and apply site.yml once.

    Called by the session fixtures; the first caller registers the teardown.
    """
    if "cluster" in _SESSION:
        return _SESSION["cluster"]
    existing = substrate.get_cluster(CLUSTER_NAME) if REUSE else None
    usable = (
        existing is not None
        and len(existing.nodes) == NODE_COUNT
        and all(n.state == "running" for n in existing.nodes)
        and existing.inventory.exists()
    )
    if usable:
        cluster = existing
    else:
        substrate.delete_cluster(CLUSTER_NAME)  # leftovers of a killed run
        cluster = substrate.create_cluster(CLUSTER_NAME, NODE_COUNT, configure=False)
    assert cluster is not None
    if not KEEP:
        request.addfinalizer(lambda: substrate.delete_cluster(CLUSTER_NAME))
    result = run_playbook(cluster, "site.yml")
    if not result.ok:
        try:
            result.raise_for_failure(f"site.yml on test cluster {CLUSTER_NAME}")
        except Exception as err:
            raise RuntimeError(f"{err}\n{result.output_tail[-3000:]}") from None
    _SESSION["cluster"] = cluster
    _SESSION["site_result"] = result
    return cluster


def session_site_result(request: Any) -> PlaybookResult:
    """The result of the session's first site.yml run."""
    session_cluster(request)
    return _SESSION["site_result"]
