"""The inventory plugin against the session's local cluster, with plain Ansible commands.

A program naming the session cluster and an `app.podplay.yml` beside it are all a user
writes; `ansible-inventory`, `ansible` and `ansible-playbook` then reach the nodes without
any podplay command (the collection on ANSIBLE_COLLECTIONS_PATH, as from a checkout). The
cluster is only read: nothing on it changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podplay import paths
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent

PLAYBOOK = """\
- name: A user's own play on one label group
  hosts: label_podplay_io_hostname_node2
  gather_facts: false
  tasks:
    - name: Read the node's hostname
      ansible.builtin.command: cat /etc/hostname
      register: hostname
      changed_when: false
    - name: It is node2
      ansible.builtin.assert:
        that: hostname.stdout == "node2"
"""


def run(tool: str, *args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(paths.collections_path()),
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    done = subprocess.run(
        [str(BIN / tool), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, f"{tool} {args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def project(cluster: Cluster, tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(
        f'import podplay as pp\n\npp.Cluster("{cluster.name}", nodes={len(cluster.nodes)})\n'
    )
    (tmp_path / "app.podplay.yml").write_text("plugin: podplay.cluster.podplay\nprogram: app.py\n")
    return tmp_path


def test_the_plugins_nodes_are_cluster_lists_nodes(cluster: Cluster, project: Path) -> None:
    listed = json.loads(run("ansible-inventory", "-i", "app.podplay.yml", "--list", cwd=project))
    clusters = json.loads(run("podplay", "cluster", "list", "-o", "json", cwd=project))
    (mine,) = [c for c in clusters["clusters"] if c["name"] == cluster.name]
    expected = {n["name"]: n["address"] for n in mine["nodes"]}
    hostvars = listed["_meta"]["hostvars"]
    assert {name: v["ansible_host"] for name, v in hostvars.items()} == expected
    assert sorted(listed["nodes"]["hosts"]) == sorted(expected)
    assert listed["control_plane"]["hosts"]
    written = paths.cluster_dir(cluster.name) / "inventory.yml"
    for v in hostvars.values():
        assert v["ansible_user"] == "root"
        assert v["ansible_ssh_private_key_file"] == str(cluster.ssh_key)
        assert str(written.parent) in v["ansible_ssh_common_args"]  # its ControlPath dir


def test_ansible_ping_and_a_users_own_playbook_reach_the_nodes(
    cluster: Cluster, project: Path
) -> None:
    pinged = run("ansible", "-i", "app.podplay.yml", "all", "-m", "ping", cwd=project)
    assert pinged.count("SUCCESS") == len(cluster.nodes), pinged
    (project / "mine.yml").write_text(PLAYBOOK)
    played = run("ansible-playbook", "-i", "app.podplay.yml", "mine.yml", cwd=project)
    assert "node2" in played and "failed=0" in played
