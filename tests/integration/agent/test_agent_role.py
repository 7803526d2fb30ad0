"""The `agent` role as `podplay up` uses it: images side-loaded only where missing (compared
by id), the pods of a node written into the store's binding table and its manifest files,
a second run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_helpers import (
    PODS_DIR,
    SLEEPER,
    client_for,
    container,
    containers_of,
    docker,
    pod,
    pod_manifest,
    running_ready,
    wait_pod,
)
from helpers import node_exec, run_playbook, wait_until

from podplay import paths
from podplay.artifacts import images
from podplay.control.agent_client import ClusterAccess
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

NODE = "node2"
# pods are a node's own variable (host_vars): only NODE gets them (the binding table the role
# writes holds every node's pods, so the same pods on every node would be bound twice)
ON_NODE = "{{ test_pods if inventory_hostname == '" + NODE + "' else [] }}"
IMAGES_PLAYBOOK = paths.repo_root() / "tests" / "integration" / "agent" / "playbooks" / "images.yml"


@pytest.fixture(scope="module")
def sideload_image(busybox_on_nodes, tmp_path_factory: pytest.TempPathFactory) -> images.BuiltImage:
    """An image no node has yet: busybox plus a marker file."""
    ctx: Path = tmp_path_factory.mktemp("sideload")
    (ctx / "Dockerfile").write_text(f"FROM {busybox_on_nodes.ref}\nCOPY marker /marker\n")
    (ctx / "marker").write_text("podplay agent side-load test\n")
    return images.build_image(ctx, "podplay/agenttest-sideload")


def node_image_id(cluster: Cluster, ref: str) -> str | None:
    out = node_exec(cluster, NODE, ["docker", "image", "inspect", "-f", "{{.Id}}", ref])
    return out.stdout.strip() if out.ok else None


def test_images_are_side_loaded_only_where_missing(cluster: Cluster, sideload_image) -> None:
    ref = sideload_image.ref
    node_exec(cluster, NODE, ["docker", "rmi", "-f", ref])
    assert node_image_id(cluster, ref) is None
    extra = {"test_images": [sideload_image.as_var()]}

    check = run_playbook(cluster, IMAGES_PLAYBOOK, extra, limit=NODE, check=True, diff=True)
    assert check.ok and check.changed == 1  # would load ...
    assert node_image_id(cluster, ref) is None  # ... but check mode touched nothing

    first = run_playbook(cluster, IMAGES_PLAYBOOK, extra, limit=NODE)
    assert first.ok and first.changed == 1
    assert node_image_id(cluster, ref) == sideload_image.id  # the same id as on the controller

    again = run_playbook(cluster, IMAGES_PLAYBOOK, extra, limit=NODE)
    assert again.ok and again.changed == 0  # compared by id: nothing copied twice


def test_an_archive_saved_under_another_name_is_loaded_and_tagged(
    cluster: Cluster, sideload_image
) -> None:
    # archives are cached by image id: two images built from one context share one, saved
    # under the first one's name; the second must still end up under its own name
    alias = "podplay/agenttest-alias:1"
    node_exec(cluster, NODE, ["docker", "rmi", "-f", sideload_image.id])
    assert node_image_id(cluster, sideload_image.ref) is None
    entry = {**sideload_image.as_var(), "ref": alias}
    result = run_playbook(cluster, IMAGES_PLAYBOOK, {"test_images": [entry]}, limit=NODE)
    assert result.ok and result.changed == 1, result.output_tail[-2000:]
    assert node_image_id(cluster, alias) == sideload_image.id
    again = run_playbook(cluster, IMAGES_PLAYBOOK, {"test_images": [entry]}, limit=NODE)
    assert again.ok and again.changed == 0


def test_an_image_built_elsewhere_is_exported_with_its_id(busybox_on_nodes) -> None:
    exported = images.export_image(busybox_on_nodes.ref)
    assert exported.id == busybox_on_nodes.id
    assert Path(exported.archive).stat().st_size > 1_000_000  # busybox is in it


def test_role_runs_the_pods_of_a_node_and_converges(
    cluster: Cluster, access: ClusterAccess, busybox_on_nodes, sideload_image
) -> None:
    agent = client_for(access, NODE)
    prefix = cluster.node(NODE).pod_cidr.rsplit(".", 1)[0]
    manifest = pod_manifest(
        "viarole",
        f"{prefix}.230",
        [container("app", sideload_image.ref, "cat /marker; " + SLEEPER)],
    )
    extra = {
        "podplay_images": [busybox_on_nodes.as_var(), sideload_image.as_var()],
        "podplay_pods": ON_NODE,
        "test_pods": [manifest],
    }
    first = run_playbook(cluster, "agent.yml", extra, limit=NODE)
    assert first.ok, first.output_tail[-2000:]
    p = wait_pod(agent, "viarole", running_ready, what="Running and Ready")
    cid = p["containers"][0]["container_id"]
    assert "podplay agent side-load test" in docker(cluster, NODE, "logs", cid)

    files = node_exec(cluster, NODE, f"stat -c '%a %n' {PODS_DIR}/* /etc/podplay/token").stdout
    assert "600 /etc/podplay/token" in files
    assert f"600 {PODS_DIR}/agenttest_viarole.json" in files
    written = json.loads(node_exec(cluster, NODE, f"cat {PODS_DIR}/agenttest_viarole.json").stdout)
    assert written == manifest

    again = run_playbook(cluster, "agent.yml", extra, limit=NODE)
    assert again.ok and again.changed == 0, [e.task for e in again.changed_tasks]
    assert pod(agent, "viarole")["containers"][0]["container_id"] == cid

    gone = run_playbook(cluster, "agent.yml", {**extra, "test_pods": []}, limit=NODE)
    # the binding table and the manifest directory, nothing else
    assert gone.ok and [e.task.split(" : ")[-1] for e in gone.changed_tasks] == [
        "The binding table in the store (which pod runs on which node)",
        "Pods bound to this node",
    ]
    wait_until(lambda: not containers_of(cluster, NODE, "viarole"), timeout=20, what="pod gone")
    wait_until(lambda: pod(agent, "viarole") is None, timeout=5, what="gone from the agent")


def test_bad_pod_input_fails_the_task_with_the_pod_named(cluster: Cluster) -> None:
    bad = {"podplay_pods": ON_NODE, "test_pods": [{"name": "Bad_Name", "namespace": "default"}]}
    result = run_playbook(cluster, "agent.yml", bad, limit=NODE)
    assert not result.ok
    # the binding table, written first, refuses it naming the node, the pod and the field
    assert f"pods.{NODE}[0]: name: 'Bad_Name'" in (result.failures[0].msg or "")
