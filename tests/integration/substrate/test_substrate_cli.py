"""`podplay cluster ...` as a user runs it: listing, deleting, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_no_docker_engine_is_an_environment_error():
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    assert_one_sentence(
        podplay("cluster", "create", "pptest-noengine", env=env), 1, "Docker engine"
    )
    assert_one_sentence(podplay("cluster", "list", env=env), 1, "Docker engine")


def test_delete_leaves_nothing_behind_and_twice_is_fine(cluster):
    name = f"{cluster.name}-del"
    made = podplay("cluster", "create", name, "--nodes", "1", "--no-configure")
    assert made.returncode == 0, made.stderr
    assert labelled("container", name) and labelled("network", name) and labelled("volume", name)
    for _ in range(2):
        gone = podplay("cluster", "delete", name)
        assert gone.returncode == 0, gone.stderr
        assert labelled("container", name) == []
        assert labelled("network", name) == []
        assert labelled("volume", name) == []
    from podplay import paths

    assert not paths.cluster_dir(name).exists()
