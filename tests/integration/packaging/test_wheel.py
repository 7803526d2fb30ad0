"""podplay from its wheel, as a user installs it: nothing of the checkout on sys.path (issue 13).

The wheel is built from a copy of the sources podplay's packaging reads (pyproject.toml,
setup.py, MANIFEST.in, README.md, dsl/, ansible_collection/) and installed into a throw-away
venv with `--no-deps`; the dependencies come from this venv's site-packages through a path
entry (a `.pth` file: plain directory, so the checkout's editable install is not picked up),
and ansible-core is installed there too so `ansible-playbook` sits next to the venv's Python
as it would after `pip install podplay`. Every command runs from a directory outside the
checkout with no ANSIBLE_* variable. Building and installing take about 15 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from helpers import CLUSTER_NAME

from podplay import paths
from podplay.artifacts import bundle, node_image

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "dsl", "ansible_collection")
COLLECTION = "ansible_collections/podplay/cluster"
WHEEL_CLUSTER = f"{CLUSTER_NAME}-whl"[:32]
NODE_PORT = 31180


class Venv:
    """The throw-away venv podplay's wheel is installed into, and commands run with it."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.home = home

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANSIBLE_", "PODPLAY_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")
        }
        env["PATH"] = f"{self.bin}:{env.get('PATH', '')}"
        env["PODPLAY_HOME"] = str(self.home)
        return env

    def run(self, tool: str, *args: str, cwd: Path, timeout: float = 600) -> str:
        done = subprocess.run(
            [str(self.bin / tool), *args],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 0, (
            f"{tool} {' '.join(args)}: rc={done.returncode}\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
        return done.stdout + done.stderr

    def python(self, code: str, cwd: Path) -> str:
        return self.run("python", "-c", code, cwd=cwd).strip()


def build_wheel(tmp: Path) -> Path:
    """`pip wheel` of a copy of the sources (the checkout's own build/ stays untouched)."""
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(path, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    done = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("podplay-*.whl")
    return wheel


def install(wheel: Path, tmp: Path, home: Path) -> Venv:
    """A venv with the wheel (no deps), ansible-core's commands, and this venv's packages."""
    venv = Venv(tmp / "venv", home)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv.root)], check=True)
    core = f"ansible-core=={metadata.version('ansible-core')}"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    pip += ["--python", str(venv.bin / "python"), "install", "--no-deps", "--ignore-installed"]
    done = subprocess.run(
        [*pip, str(wheel), core],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    site = venv.python("import sysconfig; print(sysconfig.get_paths()['purelib'])", tmp)
    Path(site, "podplay-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    tmp = tmp_path_factory.mktemp("wheel")
    # PODPLAY_HOME of its own, short: SSH's ControlPath sockets live under it (108 bytes max)
    home = Path(tempfile.mkdtemp(prefix="ppw-", dir="/tmp"))
    wheel = build_wheel(tmp)
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        f"{COLLECTION}/galaxy.yml",
        f"{COLLECTION}/meta/runtime.yml",
        f"{COLLECTION}/README.md",
        f"{COLLECTION}/playbooks/site.yml",
        f"{COLLECTION}/playbooks/provision_local.yml",
        f"{COLLECTION}/plugins/inventory/podplay.py",
        f"{COLLECTION}/roles/agent/tasks/main.yml",
        "podplay/artifacts/recipe/node/configure.sh",
        "podplay/node/README.md",
    ):
        assert expected in names, f"the wheel lacks {expected}"
    yield install(wheel, tmp, home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty directory outside the checkout."""
    where = tmp_path / "elsewhere"
    where.mkdir()
    assert ROOT not in where.resolve().parents
    return where


def test_podplay_and_its_collection_come_from_the_wheel(venv: Venv, elsewhere: Path) -> None:
    """Nothing of the checkout: the package, the collection and every play are the venv's; the
    node bundle and the node image recipe are byte-identical to the checkout's (so a cluster
    made from either is the same and the cached node image is reused)."""
    found = json.loads(
        venv.python(
            "import json, podplay, ansible\n"
            "from podplay import paths\n"
            "from podplay.artifacts import bundle, node_image\n"
            "print(json.dumps({'podplay': podplay.__file__, 'ansible': ansible.__file__,\n"
            "  'collections': str(paths.collections_path()), 'checkout': paths.repo_root(),\n"
            "  'bundle': bundle.content_hash(bundle.bundle_entries()),\n"
            "  'image': node_image.image_ref()}))",
            elsewhere,
        )
    )
    for key in ("podplay", "ansible", "collections"):
        assert Path(found[key]).is_relative_to(venv.root), (key, found[key])
    assert found["checkout"] is None
    assert found["bundle"] == bundle.content_hash(bundle.bundle_entries())
    assert found["image"] == node_image.image_ref()
    installed = Path(found["collections"]) / COLLECTION
    mine = paths.collection_dir()
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", str(mine)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked
    for name in tracked:
        rel = (ROOT / name).relative_to(mine)
        if rel.parts[0] != "tests":
            assert (installed / rel).is_file(), f"{rel} is missing from the installed collection"


def test_compile_and_preview_an_example_from_another_directory(venv: Venv, elsewhere: Path) -> None:
    shutil.copytree(ROOT / "examples" / "shop", elsewhere / "shop")
    out = venv.run("podplay", "compile", "shop/app.py", "-o", "build", cwd=elsewhere)
    assert "compiled shop/app.py: 3 nodes, 5 pods, 4 services" in out
    link = elsewhere / "build" / "collections"
    assert Path(os.readlink(link)).is_relative_to(venv.root)
    venv.run(
        "ansible-playbook",
        "--syntax-check",
        "-i",
        "build/inventory.yml",
        "build/site.yml",
        cwd=elsewhere,
    )
    preview = venv.run("podplay", "preview", "shop/app.py", cwd=elsewhere)
    assert "Resources: 16 to create" in preview


def test_ansible_finds_the_plugins_of_the_installed_collection_by_itself(
    venv: Venv, elsewhere: Path
) -> None:
    """No ANSIBLE_COLLECTIONS_PATH: ansible-core finds podplay.cluster in site-packages."""
    doc = venv.run("ansible-doc", "-t", "inventory", "podplay.cluster.podplay", cwd=elsewhere)
    assert str(venv.root) in doc
    (elsewhere / "app.py").write_text(
        'import podplay as pp\npp.Cluster("edge", nodes=[pp.Node("a1", address="10.9.0.11")])\n'
    )
    (elsewhere / "app.podplay.yml").write_text("plugin: podplay.cluster.podplay\nprogram: app.py\n")
    listed = json.loads(
        venv.run("ansible-inventory", "-i", "app.podplay.yml", "--list", cwd=elsewhere)
    )
    assert listed["nodes"]["hosts"] == ["a1"]
    assert listed["_meta"]["hostvars"]["a1"]["ansible_host"] == "10.9.0.11"


APP = """\
import podplay as pp

pp.Cluster("{cluster}", nodes=1)
image = pp.Image("hello", context="images/hello")
hello = pp.Deployment("hello", replicas=1, containers=[
    pp.Container("hello", image=image, ports=[8080], readiness=pp.HttpProbe("/", 8080, period=1))])
pp.Service("hello", selector=hello, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
"""


def local_clusters(venv: Venv, cwd: Path) -> dict[str, list[dict[str, str]]]:
    listed = json.loads(venv.run("podplay", "cluster", "list", "-o", "json", cwd=cwd))
    return {c["name"]: c["nodes"] for c in listed["clusters"]}


def test_up_verify_and_destroy_a_program_on_a_local_cluster(venv: Venv, elsewhere: Path) -> None:
    """One deployment on a one-node cluster of its own, from the wheel, then gone again."""
    shutil.copytree(ROOT / "examples" / "images" / "hello", elsewhere / "images" / "hello")
    (elsewhere / "app.py").write_text(APP.format(cluster=WHEEL_CLUSTER, node_port=NODE_PORT))
    (elsewhere / "app.podplay.yml").write_text("plugin: podplay.cluster.podplay\nprogram: app.py\n")
    try:
        venv.run("podplay", "up", "app.py", "-y", cwd=elsewhere)
        (node,) = local_clusters(venv, elsewhere)[WHEEL_CLUSTER]
        assert serves(f"http://{node['address']}:{NODE_PORT}/")
        venv.run("podplay", "verify", "app.py", cwd=elsewhere)
        listed = json.loads(
            venv.run("ansible-inventory", "-i", "app.podplay.yml", "--list", cwd=elsewhere)
        )
        assert listed["_meta"]["hostvars"][node["name"]]["ansible_host"] == node["address"]
        assert '"ping": "pong"' in venv.run(
            "ansible", "-i", "app.podplay.yml", "all", "-m", "ping", cwd=elsewhere
        )
        venv.run("podplay", "destroy", "app.py", "-y", cwd=elsewhere)
        assert WHEEL_CLUSTER not in local_clusters(venv, elsewhere)
    finally:
        subprocess.run(
            [str(venv.bin / "podplay"), "cluster", "delete", WHEEL_CLUSTER],
            env=venv.env(),
            capture_output=True,
            timeout=300,
            check=False,
        )


def serves(url: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                return resp.status == 200
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
