"""podplay.cluster from its Galaxy tarball, as an Ansible user installs it (issue 13).

`ansible-galaxy collection build` of the checkout's collection, `ansible-galaxy collection
install` of the tarball into an empty collections path, then plain `ansible-playbook` of a
project `podplay compile` wrote for the session cluster, with ANSIBLE_COLLECTIONS_PATH naming
only that install: no `collections` link beside the playbook, no scan of sys.path, no other
ANSIBLE_* variable, run from outside the project (its ansible.cfg is not read). The run
converges the cluster (the compiled program answers on its NodePort) and a second run
changes nothing, as counted by the installed collection's own `stats_json` callback. Leaves
the cluster as the other tests expect it: the same project with no pods or services.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from helpers import node_exec, wait_until

from podplay.execute import run_playbook

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "ansible_collection" / "ansible_collections" / "podplay" / "cluster"
NODE_PORT = 31124

PROGRAM = """\
import podplay as pp

pp.Cluster("{cluster}", nodes={nodes})
{body}"""

APP = f"""
image = pp.Image("tarball", context="images/hello")
app = pp.Deployment("tarball", replicas=2, containers=[
    pp.Container("web", image=image, ports=[8080], readiness=pp.HttpProbe("/", 8080, period=1))])
pp.Service("tarball", selector=app, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={NODE_PORT})])
"""


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(argv)}: rc={done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    )
    return done.stdout


def only(collections: Path | None = None) -> dict[str, str]:
    """This environment without ANSIBLE_*; with `collections`, Ansible sees only that path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    if collections is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
        env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    return env


def compile_program(root: Path, cluster, body: str, out: str, *flags: str) -> None:  # type: ignore[no-untyped-def]
    (root / "app.py").write_text(
        PROGRAM.format(cluster=cluster.name, nodes=len(cluster.nodes), body=body)
    )
    run([str(BIN / "podplay"), "compile", "app.py", "-o", out, *flags], cwd=root, env=only())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collections path the tarball was installed into."""
    tmp = tmp_path_factory.mktemp("galaxy")
    version = yaml.safe_load((SOURCE / "galaxy.yml").read_text())["version"]
    build = [str(BIN / "ansible-galaxy"), "collection", "build", str(SOURCE)]
    run([*build, "--output-path", str(tmp / "dist")], cwd=tmp, env=only())
    tarball = tmp / "dist" / f"podplay-cluster-{version}.tar.gz"
    assert tarball.is_file(), sorted(p.name for p in (tmp / "dist").iterdir())
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for expected in (
        "MANIFEST.json",
        "playbooks/site.yml",
        "roles/agent/meta/argument_specs.yml",
        "plugins/callback/stats_json.py",
        "plugins/inventory/podplay.py",
        "plugins/doc_fragments/node_bundle.py",
    ):
        assert expected in names, f"the tarball lacks {expected}"
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/output")]
    collections = tmp / "collections"
    install = [str(BIN / "ansible-galaxy"), "collection", "install", "--offline"]
    run([*install, "-p", str(collections), str(tarball)], cwd=tmp, env=only())
    return collections


def test_the_install_is_what_ansible_sees(installed: Path, tmp_path: Path) -> None:
    """With that environment, ansible-core finds podplay.cluster there and nowhere else."""
    listed = json.loads(
        run(
            [str(BIN / "ansible-galaxy"), "collection", "list", "--format", "json"],
            cwd=tmp_path,
            env=only(installed),
        )
    )
    where = {path for path, found in listed.items() if "podplay.cluster" in found}
    assert where == {str(installed / "ansible_collections")}, listed
    doc = json.loads(
        run(
            [str(BIN / "ansible-doc"), "-t", "module", "--json", "podplay.cluster.agent_config"],
            cwd=tmp_path,
            env=only(installed),
        )
    )
    assert Path(doc["podplay.cluster.agent_config"]["doc"]["filename"]).is_relative_to(installed)


def playbook(program_dir: Path, installed: Path, stats: Path) -> None:
    env = only(installed)
    env["ANSIBLE_CALLBACKS_ENABLED"] = "podplay.cluster.stats_json"
    env["PODPLAY_STATS_FILE"] = str(stats)
    argv = [str(BIN / "ansible-playbook"), "-i", "build/inventory.yml", "build/site.yml"]
    run(argv, cwd=program_dir, env=env)


@pytest.fixture
def program_dir(cluster, tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(ROOT / "examples" / "images" / "hello", tmp_path / "images" / "hello")
    yield tmp_path
    compile_program(tmp_path, cluster, "", "empty")
    result = run_playbook(tmp_path / "empty" / "site.yml", tmp_path / "empty" / "inventory.yml")
    assert result.ok, result.output_tail[-2000:]


def test_compiled_project_converges_with_the_installed_collection(
    cluster, installed: Path, program_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    compile_program(program_dir, cluster, APP, "build", "--build-images")
    link = program_dir / "build" / "collections"
    assert link.is_symlink()  # podplay compile points it at the checkout: not for this test
    link.unlink()

    playbook(program_dir, installed, program_dir / "first.json")
    first = json.loads((program_dir / "first.json").read_text())
    assert set(first["hosts"]) == {node.name for node in cluster.nodes}
    assert all(h["failures"] == 0 and h["unreachable"] == 0 for h in first["hosts"].values())
    wrote = [e for e in first["events"] if e["action"] == "podplay.cluster.pod_manifests"]
    assert wrote and all(e["status"] == "changed" for e in wrote), first["events"]

    for node in cluster.nodes:

        def answer(address: str = node.address) -> str:
            return node_exec(cluster, "node1", f"curl -s -m 2 http://{address}:{NODE_PORT}/").stdout

        assert "hello from podplay" in wait_until(answer, timeout=60, what=f"{node.name} NodePort")

    playbook(program_dir, installed, program_dir / "second.json")
    second = json.loads((program_dir / "second.json").read_text())
    changed = {host: stats["changed"] for host, stats in second["hosts"].items()}
    assert set(changed) == {node.name for node in cluster.nodes}
    assert sum(changed.values()) == 0, [e for e in second["events"] if e["status"] == "changed"]
