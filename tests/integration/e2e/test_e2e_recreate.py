"""`pp.Recreate()` end to end: two versions of an app never serve at once (issue 11).

A 2-replica deployment with `strategy=pp.Recreate()` changes its environment. While
`podplay up` replaces it, a client asks the NodePort over and over (one connection each) and
a watcher polls every agent's pods; afterwards: no answer of the old version after the first
answer of the new one, no moment when an agent listed pods of both templates (a stopping
pod is listed until its containers are gone), the requests in between refused at once (the
service had no endpoint: never a hang), and 2 new pods.

Runs on the session cluster before test_e2e_up.py (file order) and removes its app with
`destroy --keep-cluster`, so the end-to-end tests after it start from a bare cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_app import SERVE, write_context
from helpers import wait_until

from podplay.artifacts import bundle
from podplay.control.agent_client import access_from_inventory
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

PODPLAY = str(Path(sys.executable).parent / "podplay")
NODE_PORT = 30083

PROGRAM = """\
import podplay as pp

pp.Cluster({cluster!r}, nodes={nodes})

solo = pp.Deployment(
    "solo",
    replicas=2,
    strategy=pp.Recreate(),
    containers=[
        pp.Container(
            "solo",
            image=pp.Image("e2e-solo", context={context!r}),
            command={command!r},
            env={{"RELEASE": {release!r}}},
            ports=[8080],
            readiness=pp.HttpProbe("/healthz", 8080, period=1),
        )
    ],
)
pp.Service("solo", selector=solo, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
"""


def podplay(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PODPLAY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env=dict(os.environ),
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"rc={done.returncode}\n{done.stdout[-3000:]}\n{done.stderr}"
    return done.stdout


def template_of(pod: str) -> str:
    """The template hash in a pod's name (`solo-<hash>-<suffix>`)."""
    return pod.rsplit("-", 2)[1]


class App:
    def __init__(self, root: Path, cluster: Cluster) -> None:
        self.root = root
        self.cluster = cluster
        self.program = root / "app.py"
        self.stack = root / ".podplay" / cluster.name

    def write(self, release: str) -> Path:
        context = write_context(self.root, "v1")
        self.program.write_text(
            PROGRAM.format(
                cluster=self.cluster.name,
                nodes=len(self.cluster.nodes),
                context=context,
                command=SERVE,
                release=release,
                node_port=NODE_PORT,
            )
        )
        return self.program

    def pods(self) -> list[dict[str, Any]]:
        """Every pod of `solo` each agent lists (stopping ones too), with its node."""
        access = access_from_inventory(self.stack / "build" / "inventory.yml", self.cluster.name)
        out = []
        for node, answer in access.each(lambda c: c.pods()):
            if isinstance(answer, Exception):
                raise answer
            out += [
                {**p, "node": node.name}
                for p in answer.get("pods", [])
                if p["name"].startswith("solo-")
            ]
        return out


@pytest.fixture(scope="module")
def app(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NODE_BUNDLE_ENV, str(bundle.ensure_bundle()))
        app = App(tmp_path_factory.mktemp("recreate"), cluster)
        ok(podplay("up", str(app.write("1")), "-y"))
        try:
            yield app
        finally:
            done = podplay("destroy", str(app.program), "-y", "--keep-cluster")
            assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr}"


class Client(threading.Thread):
    """One new connection per request to the NodePort; records (time, template or error)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.answers: list[tuple[float, str]] = []
        self.failures: list[tuple[float, str, float]] = []  # (time, error kind, seconds taken)

    def run(self) -> None:
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=3) as resp:
                    pod = resp.read().decode().split()[1]
                self.answers.append((start, template_of(pod)))
            except urllib.error.URLError as err:
                reason = err.reason if isinstance(err.reason, Exception) else err
                self.failures.append((start, type(reason).__name__, time.monotonic() - start))
            except OSError as err:
                self.failures.append((start, type(err).__name__, time.monotonic() - start))
            time.sleep(0.02)


class Watcher(threading.Thread):
    """Polls every agent's pods: the templates of `solo` listed at each moment."""

    def __init__(self, app: App) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.stop = threading.Event()
        self.seen: list[tuple[float, set[str]]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                pods = self.app.pods()
            except Exception as err:  # an agent that did not answer: that poll proves nothing
                self.errors.append(repr(err))
            else:
                self.seen.append((time.monotonic(), {template_of(p["name"]) for p in pods}))
            time.sleep(0.2)


def test_recreate_never_serves_two_versions_at_once(app: App, cluster: Cluster) -> None:
    old = {template_of(p["name"]) for p in app.pods()}
    assert len(old) == 1 and len(app.pods()) == 2
    program = app.write("2")
    preview = ok(podplay("preview", str(program)))
    assert (
        "~  Deployment default/solo: recreate (2 pods stop, then 2 start; service "
        "default/solo has no ready endpoint meanwhile), template.containers[0].env.RELEASE"
    ) in preview

    client = Client(f"http://{cluster.nodes[0].address}:{NODE_PORT}/cgi-bin/whoami")
    watcher = Watcher(app)
    client.start()
    watcher.start()
    try:
        wait_until(lambda: client.answers, timeout=30, what="the old version answering")
        ok(podplay("up", str(program), "-y"))
        wait_until(
            lambda: client.answers[-1][1] not in old, timeout=30, what="the new version answering"
        )
        time.sleep(1)
    finally:
        client.stop.set()
        watcher.stop.set()
        client.join(10)
        watcher.join(10)

    (new,) = {template_of(p["name"]) for p in app.pods()} - old
    versions = [v for _, v in client.answers]
    first_new = versions.index(new)
    assert set(versions[:first_new]) == old and set(versions[first_new:]) == {new}, (
        "an old pod answered after a new one had"
    )
    assert len(watcher.seen) > 20, watcher.errors
    both = [t for t, templates in watcher.seen if len(templates) > 1]
    assert both == [], "an agent listed old and new pods of solo at the same moment"
    assert any(not templates for _, templates in watcher.seen), "no moment without a pod seen"
    # in between, the service had no endpoint: refused at once, never left to time out
    last_old = max(t for t, v in client.answers if v in old)
    first_new_at = client.answers[first_new][0]
    assert client.failures, "no request fell between the old and the new pods"
    assert {kind for _, kind, _ in client.failures} == {"ConnectionRefusedError"}
    assert all(last_old < t < first_new_at for t, _, _ in client.failures)
    pods = app.pods()
    assert len(pods) == 2 and {template_of(p["name"]) for p in pods} == {new}
    assert all(p["ready"] for p in pods)
    record = json.loads((app.stack / "last-up.json").read_text())
    assert record["stages"] == 3
