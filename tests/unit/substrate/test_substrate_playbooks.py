"""The repository's plays as a user runs them by hand: from any directory, no podplay setup.

`inventories/example-ssh/README.md` tells users to check the plays with ansible-inventory and
`ansible-playbook --syntax-check`; those commands must work as written, without
ANSIBLE_COLLECTIONS_PATH (Ansible finds `podplay.cluster` through `playbooks/collections`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "inventories" / "example-ssh" / "hosts.yml"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["ANSIBLE_LOCAL_TEMP"] = str(cwd / ".ansible-tmp")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_example_ssh_inventory_lists_three_nodes_with_their_contract_vars(tmp_path: Path) -> None:
    done = run([str(BIN / "ansible-inventory"), "-i", str(EXAMPLE), "--list"], tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    hostvars = data["_meta"]["hostvars"]
    assert sorted(data["nodes"]["hosts"]) == ["node1", "node2", "node3"]
    nodes = {n["name"]: n for n in hostvars["node1"]["podplay_nodes"]}
    for name, host in hostvars.items():
        assert nodes[name]["address"] == host["podplay_node_address"] == host["ansible_host"]
        assert nodes[name]["pod_cidr"] == host["podplay_node_pod_cidr"]


@pytest.mark.parametrize("playbook", ["site.yml", "nodes.yml"])
def test_playbooks_syntax_check_from_another_directory(tmp_path: Path, playbook: str) -> None:
    done = run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            str(EXAMPLE),
            str(ROOT / "playbooks" / "provision-local.yml"),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_checkout_or_installed_collection_it_is_an_environment_problem(
    monkeypatch, tmp_path: Path
) -> None:
    """Neither a checkout's ansible_collection/ nor a wheel's collection beside the package:
    say so, never write a dead link."""
    from podplay import paths
    from podplay.errors import EnvironmentProblem

    assert (paths.collections_path() / "ansible_collections" / "podplay" / "cluster").is_dir()
    monkeypatch.setattr(paths, "__file__", str(tmp_path / "site" / "podplay" / "paths.py"))
    assert paths.repo_root() is None
    with pytest.raises(EnvironmentProblem, match="reinstall podplay"):
        paths.collections_path()


def test_a_wheel_finds_the_collection_beside_the_package(monkeypatch, tmp_path: Path) -> None:
    """The wheel puts ansible_collections/podplay/cluster in site-packages beside podplay/,
    even when that venv sits inside a checkout (.venv/): the installed copy wins there."""
    from podplay import paths
    from podplay.execute.ansible import resolve_playbook

    site = tmp_path / "checkout" / ".venv" / "lib" / "python3.11" / "site-packages"
    (tmp_path / "checkout" / "ansible_collection" / "ansible_collections").mkdir(parents=True)
    collection = site / "ansible_collections" / "podplay" / "cluster"
    (collection / "playbooks").mkdir(parents=True)
    (collection / "galaxy.yml").write_text("namespace: podplay\n")
    (collection / "playbooks" / "nodes.yml").write_text("---\n")
    monkeypatch.setattr(paths, "__file__", str(site / "podplay" / "paths.py"))
    assert paths.repo_root() is None
    assert paths.collections_path() == site
    assert paths.collection_dir() == collection
    assert resolve_playbook("podplay.cluster.nodes") == collection / "playbooks" / "nodes.yml"


def test_collection_plays_resolve_by_name_in_the_checkout() -> None:
    """podplay runs the collection's plays by name (`cluster create`: provision_local, nodes);
    the repository's playbooks/ only wrap them."""
    from podplay import paths
    from podplay.errors import EnvironmentProblem
    from podplay.execute.ansible import resolve_playbook
    from podplay.substrate import provision

    for name in (provision.PROVISION_PLAYBOOK, provision.NODES_PLAYBOOK):
        path = resolve_playbook(name)
        assert path.is_file() and path.parent == paths.collection_dir() / "playbooks"
    assert resolve_playbook("site.yml") == ROOT / "playbooks" / "site.yml"
    with pytest.raises(EnvironmentProblem, match=r"no playbook podplay\.cluster\.nope"):
        resolve_playbook("podplay.cluster.nope")


def test_provision_play_syntax_checks_through_the_repository_wrapper(tmp_path: Path) -> None:
    done = run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            "localhost,",
            str(ROOT / "playbooks" / "provision-local.yml"),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
