"""Kubernetes YAML on a local cluster, through the `podplay` command as a user runs it.

examples/k8s (the two-tier shop as Kubernetes YAML, its images built offline by app.py)
goes up on its own local cluster and answers through its NodePort; then a manifest on its
own (`podplay up web.yaml`, its image from the local engine, its cluster from a
podplay.io/v1 Cluster document) runs on the same nodes, verifies and is destroyed with the
cluster. The cluster is named after the session's (`<PODPLAY_TEST_CLUSTER>-k8s`) and never
outlives the module.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CLUSTER_NAME, wait_until

from podplay import substrate
from podplay.artifacts import bundle, images
from podplay.control.workspace import NODE_BUNDLE_ENV

pytestmark = pytest.mark.integration

PODPLAY = str(Path(sys.executable).parent / "podplay")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CLUSTER = f"{CLUSTER_NAME[:28]}-k8s"
NODES = 2
FRONTEND_PORT = 30090  # examples/k8s/app.yaml
WEB_PORT = 30091


def podplay(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODPLAY, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"rc={done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    return done.stdout


def http(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()
    except OSError as err:
        return f"no answer: {err}"


def addresses() -> list[str]:
    found = substrate.get_cluster(CLUSTER)
    assert found is not None, f"cluster {CLUSTER} is not there"
    return [n.address for n in found.nodes]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """examples/k8s (and the shop contexts it builds from), its cluster renamed for the test."""
    substrate.delete_cluster(CLUSTER)  # a failed run's leftovers
    base = tmp_path_factory.mktemp("k8s")
    shutil.copytree(EXAMPLES / "k8s", base / "k8s", ignore=shutil.ignore_patterns(".podplay"))
    shutil.copytree(EXAMPLES / "shop" / "images", base / "shop" / "images")
    program = base / "k8s" / "app.py"
    text = program.read_text()
    assert 'pp.Cluster("k8s-shop", nodes=3)' in text
    program.write_text(
        text.replace('pp.Cluster("k8s-shop", nodes=3)', f'pp.Cluster("{CLUSTER}", nodes={NODES})')
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NODE_BUNDLE_ENV, str(bundle.ensure_bundle()))
        try:
            yield base
        finally:
            substrate.delete_cluster(CLUSTER)


def test_the_two_tier_manifest_answers_through_its_node_port(root: Path) -> None:
    example = root / "k8s"
    out = ok(podplay("up", "app.py", "-y", cwd=example))
    assert "5 pods available" in out, out

    for address in addresses():  # every node, whichever runs the frontend pods
        page = wait_until(
            lambda a=address: _shop_page(a), timeout=30, what=f"the shop on {address}"
        )
        # the frontend asked the backend by its service name, through its named targetPort
        assert page.startswith("frontend frontend-") and "backend backend-" in page, page

    ok(podplay("destroy", "app.py", "-y", "--keep-cluster", cwd=example))


def _shop_page(address: str) -> str:
    page = http(f"http://{address}:{FRONTEND_PORT}/")
    return page if "apples" in page else ""


WEB_YAML = """\
apiVersion: podplay.io/v1
kind: Cluster
metadata:
  name: {cluster}
spec:
  nodes: {nodes}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 2
  selector:
    matchLabels: {{app: hello}}
  template:
    metadata:
      labels: {{app: hello}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: hello
        image: {image}
        command: ["sh", "-c"]
        args:
        - echo "$(GREETING) from $(hostname)" > /var/www/index.html;
          trap 'exit 0' TERM; httpd -f -p 8080 -h /var/www & wait
        env:
        - name: GREETING
          value: hello from yaml
        ports:
        - {{name: http, containerPort: 8080}}
        readinessProbe:
          httpGet: {{path: /, port: http}}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  type: NodePort
  selector: {{app: hello}}
  ports:
  - {{port: 80, targetPort: http, nodePort: {node_port}}}
"""


def test_a_manifest_on_its_own_up_verify_destroy(root: Path) -> None:
    here = root / "yaml"
    here.mkdir()
    busybox = images.ensure_busybox_image()  # in the local engine; side-loaded by up
    web = here / "web.yaml"
    missing = here / "missing.yaml"
    for path, image in ((web, busybox.ref), (missing, "podplay/not-built:1")):
        path.write_text(
            WEB_YAML.format(cluster=CLUSTER, nodes=NODES, node_port=WEB_PORT, image=image)
        )

    done = podplay("preview", "missing.yaml", cwd=here)
    assert done.returncode == 2
    assert done.stderr == (
        'error: missing.yaml:23: Deployment "hello": spec.template.spec.containers[0].image '
        '"podplay/not-built:1" is not in the local Docker engine and no pp.Image declares it; '
        "build or load it first (there is no registry)\n"
    )

    out = ok(podplay("up", "web.yaml", "-y", cwd=here))
    assert "2 pods available" in out, out
    for address in addresses():
        answer = http(f"http://{address}:{WEB_PORT}/")
        assert answer.startswith("hello from yaml from hello-"), answer
    checks = ok(podplay("verify", "web.yaml", "-q", cwd=here))
    assert " passed" in checks and "failed" not in checks

    ok(podplay("destroy", "web.yaml", "-y", cwd=here))
    assert substrate.get_cluster(CLUSTER) is None
    assert not (here / ".podplay" / CLUSTER / "plan.json").exists()
