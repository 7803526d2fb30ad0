"""`podplay cluster ...` as a user runs it: listing, deleting, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

PODPLAY = [str(Path(sys.executable).parent / "podplay")]


def podplay(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PODPLAY, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def assert_one_sentence(done: subprocess.CompletedProcess, status: int, *words: str) -> None:
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0]


def labelled(kind: str, name: str) -> list[str]:
    out = subprocess.run(
        ["docker", kind, "ls", "-q", *(["-a"] if kind == "container" else []),
         "--filter", f"label=io.podplay.cluster={name}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.split()


def test_list_json_shows_the_cluster(cluster):
    done = podplay("cluster", "list", "-o", "json")
    assert done.returncode == 0, done.stderr
    listed = {c["name"]: c for c in json.loads(done.stdout)["clusters"]}
    nodes = listed[cluster.name]["nodes"]
    assert [n["name"] for n in nodes] == [f"node{i}" for i in range(1, len(cluster.nodes) + 1)]
    for n in nodes:
        assert set(n) >= {"name", "container", "address", "pod_cidr"}
        assert n["container"] == f"{cluster.name}-{n['name']}"
        assert n["pod_cidr"] == f"10.244.{n['name'][4:]}.0/24"


def test_name_in_use_is_refused(cluster):
    assert_one_sentence(podplay("cluster", "create", cluster.name), 2, cluster.name, "in use")


@pytest.mark.parametrize("name", ["Bad_Name", "1st", "a" * 40, "x-", "a.b"])
def test_invalid_name_is_refused(name):
    assert_one_sentence(podplay("cluster", "create", name, "--nodes", "1"), 2, "invalid")
    assert labelled("container", name.lower()) == []


@pytest.mark.parametrize("count", ["0", "-1", "101"])
def test_node_count_out_of_range_is_refused(count):
    assert_one_sentence(
        podplay("cluster", "create", "pptest-nodes", "--nodes", count), 2, "--nodes"
    )


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--pod-cidr", "10.244.0.0/24"], "no /24 for each"),
        (["--service-cidr", "10.244.128.0/20"], "overlaps"),
        (["--pod-cidr", "banana"], "not an IPv4 network"),
    ],
)
def test_bad_cidrs_are_refused(cluster, flags, words):
    name = f"{cluster.name}-cidr"
    assert_one_sentence(podplay("cluster", "create", name, *flags), 2, words)
    assert labelled("container", name) == [] and labelled("network", name) == []


def test_a_foreign_network_with_the_clusters_name_is_named_and_kept(cluster):
    name = f"{cluster.name}-foreign"
    subprocess.run(
        ["docker", "network", "create", f"podplay-{name}"], check=True, capture_output=True
    )
    try:
        done = podplay("cluster", "create", name, "--nodes", "1", "--no-configure")
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert f"a Docker network named podplay-{name} already exists" in done.stderr
        kept = ["docker", "network", "inspect", f"podplay-{name}"]
        assert subprocess.run(kept, capture_output=True, check=False).returncode == 0
        assert labelled("container", name) == []
    finally:
        subprocess.run(["docker", "network", "rm", f"podplay-{name}"], capture_output=True)


def test_no_docker_engine_is_an_environment_error():
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    assert_one_sentence(
        podplay("cluster", "create", "pptest-noengine", env=env), 1, "Docker engine"
    )
    assert_one_sentence(podplay("cluster", "list", env=env), 1, "Docker engine")


@pytest.fixture(scope="module")
def fresh(cluster):
    """A second, one-node cluster made by the CLI and left unconfigured (--no-configure).

    The tests below use it in file order; the last one deletes it."""
    from podplay import substrate

    name = f"{cluster.name}-del"
    made = podplay(
        "cluster", "create", name, "--nodes", "1", "--no-configure",
        "--pod-cidr", "10.250.0.0/16", "--service-cidr", "10.97.0.0/16",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    yield substrate.get_cluster(name)
    substrate.delete_cluster(name)


def test_create_labels_nodes_follows_the_cidrs_and_keeps_the_key_private(fresh):
    from podplay import paths
    from podplay.artifacts import node_image

    node = fresh.node("node1")
    inspect = json.loads(
        subprocess.run(
            ["docker", "inspect", node.container], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    labels = inspect["Config"]["Labels"]
    assert {k: labels.get(k) for k in labels if k.startswith("io.podplay.")} == {
        "io.podplay.recipe": node_image.recipe_hash(),  # from the node image
        "io.podplay.cluster": fresh.name,
        "io.podplay.role": "node",
        "io.podplay.node-index": "1",
        "io.podplay.node-name": "node1",
        "io.podplay.pod-cidr": "10.250.1.0/24",  # the first /24 of --pod-cidr
    }
    inventory = yaml.safe_load(fresh.inventory.read_text())["all"]["vars"]
    assert (inventory["podplay_pod_cidr"], inventory["podplay_service_cidr"]) == (
        "10.250.0.0/16",
        "10.97.0.0/16",
    )
    assert inventory["podplay_dns_ip"] == "10.97.0.10"
    volume = f"{fresh.name}-node1-docker"
    docker_dir = [m for m in inspect["Mounts"] if m["Destination"] == "/var/lib/docker"]
    assert [(m["Type"], m["Name"]) for m in docker_dir] == [("volume", volume)]
    assert labelled("volume", fresh.name) == [volume]
    assert labelled("network", fresh.name)
    directory = paths.cluster_dir(fresh.name)
    assert directory.stat().st_mode & 0o777 == 0o700
    key = directory / "id_ed25519"
    assert fresh.ssh_key == key and key.stat().st_mode & 0o777 == 0o600
    root = Path(__file__).resolve().parents[3]
    assert not key.resolve().is_relative_to(root), "the SSH key must never sit in the repo"
    trusted = subprocess.run(
        ["docker", "exec", node.container, "cat", "/root/.ssh/authorized_keys"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert trusted.strip() == key.with_suffix(".pub").read_text().strip()
    mode = subprocess.run(
        ["docker", "exec", node.container, "stat", "-c", "%a %U", "/root/.ssh/authorized_keys"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert mode == ["600", "root"], "authorized_keys must be 0600 (was 1130: '0600' read as 600)"


def test_check_mode_on_a_fresh_node_reports_changes_and_touches_nothing(fresh):
    from podplay.substrate import configure_nodes

    result = configure_nodes(fresh.name, "site.yml", check=True, diff=True)
    assert result.ok, result.output_tail[-2000:]
    assert result.hosts["node1"].changed > 0
    left = subprocess.run(
        ["docker", "exec", fresh.node("node1").container, "sh", "-c",
         "ls /opt/podplay /etc/podplay/network.json /etc/podplay/agent.json 2>&1; "
         "ls /etc/systemd/system/podplay-agent.service /etc/podplay/cluster.json 2>&1; "
         "docker network ls -q --filter name=^podplay$"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "No such file" in left and "podplay-node.pyz" not in left, left


def test_delete_leaves_nothing_behind_and_twice_is_fine(fresh):
    name = fresh.name
    assert labelled("container", name) and labelled("network", name) and labelled("volume", name)
    for _ in range(2):
        gone = podplay("cluster", "delete", name)
        assert gone.returncode == 0, gone.stderr
        assert labelled("container", name) == []
        assert labelled("network", name) == []
        assert labelled("volume", name) == []
    from podplay import paths

    assert not paths.cluster_dir(name).exists()
