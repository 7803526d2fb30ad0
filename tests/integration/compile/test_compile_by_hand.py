"""`podplay compile` output run by hand with plain ansible-playbook, as its header says (issue 3).

The program names the session cluster, so compile reads the inventory `cluster create` wrote;
`--build-images` builds the app image and the pod sandbox image, and the plays side-load them.
ansible-playbook runs with no ANSIBLE_* variable and from outside the output directory: the
project must carry everything it needs. Runs after the substrate, agent and routing tests
(tests/integration/conftest.py orders directories) and leaves the cluster without pods.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import node_exec, wait_until

from podplay.execute import run_playbook

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NODE_PORT = 31123

PROGRAM = """\
import podplay as pp

pp.Cluster("{cluster}", nodes={nodes})
{body}"""

APP = """
image = pp.Image("byhand", context="images/hello")
hello = pp.Deployment("byhand", replicas=2, containers=[
    pp.Container("web", image=image, ports=[8080], readiness=pp.HttpProbe("/", 8080, period=2),
                 env={{"TEMPLATE": "{{{{ not_jinja }}}} {{% raw %}}"}})])
pp.Service("byhand", selector=hello, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
"""


def plain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def compile_program(root: Path, cluster, body: str, out: str, *flags: str):  # type: ignore[no-untyped-def]
    (root / "app.py").write_text(
        PROGRAM.format(cluster=cluster.name, nodes=len(cluster.nodes), body=body)
    )
    done = subprocess.run(
        [str(BIN / "podplay"), "compile", "app.py", "-o", out, *flags],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def program_dir(cluster, tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(EXAMPLES / "images" / "hello", tmp_path / "images" / "hello")
    yield tmp_path
    # leave the cluster as the session found it: the same project with no pods or services
    compile_program(tmp_path, cluster, "", "empty")
    result = run_playbook(tmp_path / "empty" / "site.yml", tmp_path / "empty" / "inventory.yml")
    assert result.ok, result.output_tail[-2000:]


def test_compiled_project_converges_with_plain_ansible_playbook(cluster, program_dir):
    without = compile_program(program_dir, cluster, APP.format(node_port=NODE_PORT), "build")
    assert "--build-images" in without.stderr  # says the plays could not start the pods
    compile_program(
        program_dir, cluster, APP.format(node_port=NODE_PORT), "build", "--build-images"
    )

    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "build/inventory.yml", "build/site.yml"],
        cwd=program_dir,
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

    # every node answers on the NodePort with a pod of the compiled program
    for node in cluster.nodes:

        def answer(address: str = node.address) -> str:
            cmd = f"curl -s -m 2 http://{address}:{NODE_PORT}/"
            return node_exec(cluster, "node1", cmd).stdout

        assert "hello from podplay" in wait_until(answer, timeout=60, what=f"{node.name} NodePort")

    # Ansible templates vars files: a value with Jinja delimiters must reach the pod as written
    ps = ["docker", "ps", "--filter", "label=io.podplay.container=web", "--format"]
    ps.append('{{.Label "io.podplay.pod"}} {{.ID}}')
    found = [
        (node, line.split()[1])
        for node in cluster.nodes
        for line in node_exec(cluster, node, ps).stdout.splitlines()
        if line.startswith("byhand-")
    ]
    assert len(found) == 2, found
    for node, container in found:
        cmd = ["docker", "inspect", "-f", "{{json .Config.Env}}", container]
        env = json.loads(node_exec(cluster, node, cmd).stdout)
        assert "TEMPLATE={{ not_jinja }} {% raw %}" in env
