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
            str(ROOT / "playbooks" / playbook),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_the_checkout_the_collection_is_an_environment_problem(monkeypatch) -> None:
    """A non-editable install has no ansible_collection/: say so, never write a dead link."""
    from podplay import paths
    from podplay.errors import EnvironmentProblem

    assert (paths.collections_path() / "ansible_collections" / "podplay" / "cluster").is_dir()
    monkeypatch.setattr(paths, "repo_root", lambda: None)
    with pytest.raises(EnvironmentProblem, match="source checkout"):
        paths.collections_path()
