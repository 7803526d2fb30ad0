"""The inventory plugin podplay.cluster.podplay: groups and variables from a program's plan.

In-process: `populate` on Ansible's own InventoryData (groups, host variables, label groups,
the constructed options) for a program of real hosts and for a local cluster whose
`cluster create` inventory is written here (the engine is faked: no Docker). Then as users
run it: `ansible-inventory` and `ansible-doc` with the collection on ANSIBLE_COLLECTIONS_PATH.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from podplay import paths, substrate
from podplay.plan import Plan
from podplay.render.inventory import inventory as rendered_inventory
from podplay.substrate import addressing
from podplay.substrate.inventory import render_inventory
from podplay.substrate.model import Cluster, Node

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ansible_collection"))

from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.template import trust_as_template
from ansible_collections.podplay.cluster.plugins.inventory import podplay as plugin

BIN = Path(sys.executable).parent

HOSTS_PROGRAM = """\
import podplay as pp

pp.Cluster("edge", control_plane=1, nodes=[
    pp.Node("a1", address="10.9.0.11", labels={"zone": "east"}),
    pp.Node("a2", address="10.9.0.12", user="deploy", port=2222, ssh_key="/keys/edge",
            labels={"zone": "west", "disk": "ssd"}),
])
"""


def program(tmp_path: Path, text: str = HOSTS_PROGRAM) -> str:
    path = tmp_path / "app.py"
    path.write_text(text)
    return str(path)


def populate(plan: Plan, **options) -> InventoryData:  # type: ignore[no-untyped-def]
    module = plugin.InventoryModule()
    module.inventory = InventoryData()
    module.loader = DataLoader()
    module._vars = {}
    module.populate(plan, **options)
    return module.inventory


def members(inventory: InventoryData, group: str) -> list[str]:
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def test_nodes_control_plane_and_label_groups(tmp_path: Path) -> None:
    plan = plugin.program_plan(program(tmp_path))
    inv = populate(plan)
    assert members(inv, "nodes") == ["a1", "a2"]
    assert members(inv, "control_plane") == ["a1"]
    assert [g.name for g in inv.groups["control_plane"].parent_groups] == ["nodes"]
    assert members(inv, "label_zone_east") == ["a1"]
    assert members(inv, "label_zone_west") == members(inv, "label_disk_ssd") == ["a2"]
    # the planner's hostname label, its "." and "/" made valid as keyed_groups does
    assert members(inv, "label_podplay_io_hostname_a2") == ["a2"]
    assert "label_zone_east" not in populate(plan, label_groups=False).groups


def test_host_variables_are_the_rendered_inventorys_plus_podplays(tmp_path: Path) -> None:
    plan = plugin.program_plan(program(tmp_path))
    inv = populate(plan)
    rendered = yaml.safe_load(rendered_inventory(plan, None))["all"]["children"]["nodes"]
    for name, connection in rendered["hosts"].items():
        hostvars = inv.get_host(name).get_vars()
        assert {k: v for k, v in hostvars.items() if k.startswith("ansible_")} == connection
    a2 = inv.get_host("a2").get_vars()
    assert (a2["ansible_host"], a2["ansible_user"]) == ("10.9.0.12", "deploy")
    assert a2["ansible_port"] == 2222
    assert a2["ansible_ssh_private_key_file"] == "/keys/edge"
    assert a2["ansible_become"] is True  # not root: the roles sudo
    assert a2["podplay_node_labels"] == {"podplay.io/hostname": "a2", "zone": "west", "disk": "ssd"}
    assert (a2["podplay_cluster_name"], a2["podplay_node_address"]) == ("edge", "10.9.0.12")
    assert a2["podplay_node_pod_cidr"] == "10.244.2.0/24"
    assert a2["podplay_control_plane"] is False
    assert inv.get_host("a1").get_vars()["podplay_control_plane"] is True


def trusted(expressions: dict[str, str]) -> dict[str, str]:
    """Expressions as Ansible marks those of a configuration file it read (trusted)."""
    return {name: trust_as_template(text) for name, text in expressions.items()}


def test_constructed_options_compose_groups_and_keyed_groups(tmp_path: Path) -> None:
    plan = plugin.program_plan(program(tmp_path))
    inv = populate(
        plan,
        label_groups=False,
        compose=trusted(
            {"zone": "podplay_node_labels.zone", "ssh_to": "ansible_user + '@' + ansible_host"}
        ),
        groups=trusted({"store": "podplay_control_plane", "ssd": "'disk' in podplay_node_labels"}),
        keyed_groups=[trusted({"key": "podplay_node_labels.zone", "prefix": "zone"})],
        strict=True,
    )
    assert inv.get_host("a2").get_vars()["zone"] == "west"
    assert inv.get_host("a2").get_vars()["ssh_to"] == "deploy@10.9.0.12"
    assert members(inv, "store") == ["a1"]
    assert members(inv, "ssd") == ["a2"]
    assert (members(inv, "zone_east"), members(inv, "zone_west")) == (["a1"], ["a2"])


def test_stack_option_plans_against_that_stacks_state(tmp_path: Path) -> None:
    """`stack:` is the stack whose applied plan the nodes keep their pod /24s from."""
    app = program(tmp_path)
    plan = plugin.program_plan(app)
    swapped = [
        n.model_copy(update={"pod_cidr": other.pod_cidr})
        for n, other in zip(plan.nodes, reversed(plan.nodes), strict=True)
    ]
    state = tmp_path / ".podplay" / "staging"
    state.mkdir(parents=True)
    (state / "plan.json").write_text(plan.model_copy(update={"nodes": swapped}).to_json())
    staged = plugin.program_plan(app, "staging")
    assert [n.pod_cidr for n in staged.nodes] == ["10.244.2.0/24", "10.244.1.0/24"]
    default = plugin.program_plan(app)
    assert [n.pod_cidr for n in default.nodes] == ["10.244.1.0/24", "10.244.2.0/24"]


def fake_local_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> Cluster:
    """A local cluster as the engine's labels and `cluster create`'s inventory describe it."""
    monkeypatch.setenv("PODPLAY_HOME", str(tmp_path / "home"))
    layout = addressing.plan_cluster(name, 3, ipaddress.IPv4Network("172.30.9.0/24"))
    directory = paths.cluster_dir(name)
    directory.mkdir(parents=True)
    text = render_inventory(
        layout, ssh_key=directory / "id_ed25519", control_path_dir=directory / "cp"
    )
    (directory / "inventory.yml").write_text(text)
    found = Cluster(
        name=name,
        nodes=tuple(
            Node(n.name, n.container, n.address, n.pod_cidr, n.index) for n in layout.nodes
        ),
        network=layout.network,
        subnet=layout.subnet,
        inventory=directory / "inventory.yml",
        ssh_key=directory / "id_ed25519",
    )
    monkeypatch.setattr(substrate, "get_cluster", lambda wanted: found if wanted == name else None)
    return found


def test_a_local_clusters_nodes_come_with_cluster_creates_connection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    found = fake_local_cluster(monkeypatch, tmp_path, "lab")
    app = program(tmp_path, 'import podplay as pp\npp.Cluster("lab", nodes=3)\n')
    inv = populate(plugin.program_plan(app))
    assert members(inv, "nodes") == ["node1", "node2", "node3"]
    assert members(inv, "control_plane") == ["node1", "node2", "node3"]
    written = yaml.safe_load(found.inventory.read_text())["all"]
    for node in found.nodes:
        hostvars = inv.get_host(node.name).get_vars()
        assert hostvars["ansible_host"] == hostvars["podplay_node_address"] == node.address
        for key in ("ansible_user", "ansible_ssh_private_key_file", "ansible_ssh_common_args"):
            assert hostvars[key] == written["vars"][key]
        assert "ControlPath=" in hostvars["ansible_ssh_common_args"]


def test_a_local_cluster_that_does_not_exist_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_local_cluster(monkeypatch, tmp_path, "lab")
    app = program(tmp_path, 'import podplay as pp\npp.Cluster("other", nodes=2)\n')
    with pytest.raises(plugin.PodplayError, match=r"local cluster other of .* does not exist"):
        plugin.program_plan(app)


# ---- as users run it --------------------------------------------------------------------------


def ansible(tool: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    clean.update(
        ANSIBLE_COLLECTIONS_PATH=str(paths.collections_path()),
        ANSIBLE_LOCAL_TEMP=str(cwd / ".ansible-tmp"),
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        **env,
    )
    return subprocess.run(
        [str(BIN / tool), *args], cwd=cwd, env=clean, capture_output=True, text=True, check=False
    )


CONFIG = """\
plugin: podplay.cluster.podplay
program: ../app.py
keyed_groups:
  - key: podplay_node_labels.zone
    prefix: zone
compose:
  zone: podplay_node_labels.zone
"""


def test_ansible_inventory_lists_the_nodes_from_another_directory(tmp_path: Path) -> None:
    program(tmp_path)
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "edge.podplay.yml").write_text(CONFIG)
    done = ansible("ansible-inventory", "-i", "inv/edge.podplay.yml", "--list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert sorted(data["nodes"]["hosts"]) == ["a1", "a2"]
    assert data["control_plane"]["hosts"] == ["a1"]
    assert data["zone_west"]["hosts"] == data["label_disk_ssd"]["hosts"] == ["a2"]
    a2 = data["_meta"]["hostvars"]["a2"]
    assert (a2["ansible_host"], a2["ansible_port"], a2["zone"]) == ("10.9.0.12", 2222, "west")


def test_file_names_other_than_podplay_yml_are_refused(tmp_path: Path) -> None:
    program(tmp_path)
    (tmp_path / "edge.yml").write_text(CONFIG.replace("../app.py", "app.py"))
    done = ansible(
        "ansible-inventory",
        "-i",
        "edge.yml",
        "--list",
        cwd=tmp_path,
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
    )
    assert done.returncode != 0
    assert "podplay.cluster.podplay" in done.stderr and "could not be verified" in done.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'import podplay as pp\npp.Cluster("edge", nodes=[pp.Node("a1", address="nope")])\n',
            'podplay: app.py:2: Node "a1": address "nope" is not an IPv4 address',
        ),
        (None, "needs the podplay Python package in the Python that runs Ansible"),
    ],
)
def test_problems_are_one_line_naming_the_cause(
    tmp_path: Path, text: str | None, message: str
) -> None:
    program(tmp_path, text or HOSTS_PROGRAM)
    (tmp_path / "edge.podplay.yml").write_text(CONFIG.replace("../app.py", "app.py"))
    env = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True"}
    if text is None:  # a podplay that cannot be imported shadows the installed one
        fake = tmp_path / "shadow" / "podplay"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("raise ImportError('No module named podplay')\n")
        env["PYTHONPATH"] = str(fake.parent)
    done = ansible("ansible-inventory", "-i", "edge.podplay.yml", "--list", cwd=tmp_path, **env)
    assert done.returncode != 0
    line = next(line for line in done.stderr.splitlines() if message in line)
    assert "Traceback" not in done.stderr, line


def test_ansible_doc_documents_the_plugin(tmp_path: Path) -> None:
    done = ansible("ansible-doc", "-t", "inventory", "podplay.cluster.podplay", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "podplay.yml" in done.stdout and "keyed_groups" in done.stdout
    assert "EXAMPLES" in done.stdout
