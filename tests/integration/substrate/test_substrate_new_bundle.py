"""A new node bundle through site.yml, whose roles are one module call per node: each module
runs its services from what the bundle's files apply reported, with the restart decisions
the roles always made. The proxy restarts before the agent (the new agent speaks TLS only),
the agent, the proxy and the controller run the new bundle, etcd (whose unit does not name
the bundle) keeps running, the store has its quorum, and a second run changes nothing.
Every node then runs the new bundle from its one byte-compiled copy, and keeps no other."""

from __future__ import annotations

import hashlib
import json
import uuid
import zipapp
import zipfile
from pathlib import Path

import pytest
from helpers import node_exec, run_playbook

from podplay.artifacts import bundle
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

DAEMONS = ("podplay-network.service", "podplay-agent.service", "podplay-proxy.service",
           "podplay-controller.service")  # fmt: skip
UNITS = ("podplay-agent.service", "podplay-proxy.service", "podplay-controller.service",
         "etcd.service")  # fmt: skip
STARTED = "39f53479d3a045ac8e11786248231fbf"  # systemd's "unit started" journal message id


def another_bundle(directory: Path) -> Path:
    """The bundle under test with one more file: same code, another sha256 (a new bundle)."""
    tree = directory / "tree"
    with zipfile.ZipFile(bundle.ensure_bundle()) as archive:
        archive.extractall(tree)
    (tree / "podplay-itest-marker.txt").write_text(uuid.uuid4().hex)
    target = directory / "podplay-node-itest.pyz"
    zipapp.create_archive(tree, target, interpreter="/usr/bin/env python3")
    return target


def pids(cluster: Cluster, node: str) -> dict[str, str]:
    out = node_exec(cluster, node, ["systemctl", "show", "-p", "MainPID", "--value", *UNITS],
                    check=True).stdout.split()  # fmt: skip
    return dict(zip(UNITS, out, strict=True))


def started_since(cluster: Cluster, node: str, since: str) -> list[str]:
    """The units systemd reported started on `node` since `since` (epoch seconds), in order."""
    out = node_exec(cluster, node, ["journalctl", "-o", "json", "--since", f"@{since}",
                                    f"MESSAGE_ID={STARTED}"], check=True).stdout  # fmt: skip
    units = [json.loads(line).get("UNIT") for line in out.splitlines() if line.strip()]
    return [u for u in units if u in UNITS]


def test_a_new_bundle_restarts_proxy_then_agent_and_the_controller_not_etcd(
    cluster: Cluster, site_result, tmp_path: Path
) -> None:
    assert site_result.ok
    node = "node1"  # a store member (the test cluster's three nodes all are)
    before = pids(cluster, node)
    since = node_exec(cluster, node, "date +%s", check=True).stdout.strip()
    new = {"podplay_node_bundle": str(another_bundle(tmp_path))}
    try:
        result = run_playbook(cluster, "site.yml", new)
        assert result.ok, result.output_tail[-3000:]
        after = pids(cluster, node)
        changed = {u for u in UNITS if after[u] != before[u]}
        assert changed == set(UNITS) - {"etcd.service"}, (before, after)
        order = started_since(cluster, node, since)
        assert order.index("podplay-proxy.service") < order.index("podplay-agent.service"), order
        assert "etcd.service" not in order, order
        store = node_exec(cluster, node, "python3 /opt/podplay/podplay-node.pyz store health "
                          "--quorum", timeout=90)  # fmt: skip
        assert store.ok, store.stderr
        again = run_playbook(cluster, "site.yml", new)
        assert again.ok, again.output_tail[-3000:]
        assert again.changed == 0, [(e.host, e.task) for e in again.changed_tasks]
    finally:
        back = run_playbook(cluster, "site.yml")  # the bundle under test again, for the others
        assert back.ok, back.output_tail[-3000:]


def copies_in_use(cluster: Cluster, node: str) -> tuple[list[str], dict[str, list[str]]]:
    """What /opt/podplay holds besides the bundle, and the copy each podplay daemon runs
    from (the copy's lock file its main process holds open)."""
    listing = node_exec(cluster, node, "ls -A /opt/podplay", check=True).stdout.split()
    out = node_exec(cluster, node, ["systemctl", "show", "-p", "MainPID", "--value", *DAEMONS],
                    check=True).stdout.split()  # fmt: skip
    held = {}
    for unit, pid in zip(DAEMONS, out, strict=True):
        links = node_exec(cluster, node, f"readlink /proc/{pid}/fd/* || true").stdout.split()
        held[unit] = sorted(link for link in links if link.endswith("/.in-use"))
    return sorted(n for n in listing if n != "podplay-node.pyz"), held


def assert_runs_only(cluster: Cluster, pyz: Path) -> None:
    """Every node keeps exactly the copy of `pyz` (named by its sha256) and every podplay
    daemon runs from it."""
    copy = "node-" + hashlib.sha256(pyz.read_bytes()).hexdigest()[:16]
    for node in cluster.nodes:
        names, held = copies_in_use(cluster, node.name)
        assert names == [copy], (node.name, names)
        assert held == {u: [f"/opt/podplay/{copy}/.in-use"] for u in DAEMONS}, (node.name, held)


def test_a_new_bundle_leaves_only_its_own_copy_and_every_daemon_runs_from_it(
    cluster: Cluster, site_result, tmp_path: Path
) -> None:
    assert site_result.ok
    assert_runs_only(cluster, bundle.ensure_bundle())
    new = another_bundle(tmp_path)
    try:
        result = run_playbook(cluster, "site.yml", {"podplay_node_bundle": str(new)})
        assert result.ok, result.output_tail[-3000:]
        assert_runs_only(cluster, new)
    finally:
        back = run_playbook(cluster, "site.yml")  # the bundle under test again, for the others
        assert back.ok, back.output_tail[-3000:]
    assert_runs_only(cluster, bundle.ensure_bundle())
