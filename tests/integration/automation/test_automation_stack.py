"""The automation API on the session cluster, with no `podplay` process: preview, up, outputs
and destroy of a one-deployment program, each result read as data.

The program's cluster is the session's (it exists, so `up` converges it rather than making
one); the app is destroyed with `keep_cluster=True` at the end, as chaos/ destroys its own,
so the tests after this one (and e2e/) find the cluster as they expect: nodes up, no app.
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest
from helpers import wait_until

from podplay.artifacts import bundle
from podplay.automation import (
    DeploymentsProgress,
    Event,
    NotApplied,
    PhaseStarted,
    PlaybookFinished,
    Stack,
)
from podplay.control.workspace import NODE_BUNDLE_ENV
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NODE_PORT = 30087

PROGRAM = """\
import podplay as pp

pp.Cluster({cluster!r}, nodes={nodes})

image = pp.Image("automation-hello", context="hello")
hello = pp.Deployment(
    "hello",
    replicas=2,
    containers=[
        pp.Container("hello", image=image, ports=[8080],
                     readiness=pp.HttpProbe("/", 8080, period=1)),
    ],
)
web = pp.Service("hello", selector=hello, type="NodePort",
                 ports=[pp.ServicePort(80, target_port=8080, node_port={port})])
pp.export("node_port", web.node_port())
"""


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()
    except OSError as err:
        return f"no answer: {err}"


def test_preview_up_outputs_destroy_through_the_api(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(EXAMPLES / "images" / "hello", tmp_path / "hello")
    program = tmp_path / "app.py"
    program.write_text(
        PROGRAM.format(cluster=cluster.name, nodes=len(cluster.nodes), port=NODE_PORT)
    )
    monkeypatch.setenv(NODE_BUNDLE_ENV, str(bundle.ensure_bundle()))
    stack = Stack.from_program(program)

    preview = stack.preview()
    assert preview.cluster_exists and preview.stack == cluster.name
    created = {(o.kind, o.name) for o in preview.operations if o.action == "create"}
    assert {("Deployment", "hello"), ("Service", "hello")} <= created
    assert not (tmp_path / ".podplay" / cluster.name / "plan.json").exists()

    events: list[Event] = []
    try:
        result = stack.up(on_event=events.append)
        nodes = {n.name for n in cluster.nodes}
        site = result.playbooks[0]
        assert site.playbook == "site.yml" and site.ok and set(site.hosts) == nodes
        assert all(s.failures == 0 and s.unreachable == 0 for s in site.hosts.values())
        finished = [e.run for e in events if isinstance(e, PlaybookFinished)]
        assert finished == list(result.playbooks)
        phases = [e.name for e in events if isinstance(e, PhaseStarted)]
        assert phases[-2:] == ["converge", "wait"]
        last = [e for e in events if isinstance(e, DeploymentsProgress)][-1]
        assert [(r.name, r.ready, r.desired) for r in last.rows] == [("hello", 2, 2)]
        assert result.pods == 2

        outputs = stack.outputs()
        assert outputs == result.outputs
        assert outputs.exports == {"node_port": NODE_PORT}
        (service,) = outputs.services
        urls = [r for r in service.reach if r.startswith("http://")]
        assert len(urls) == len(cluster.nodes)
        for url in urls:
            wait_until(lambda u=url: "hello from podplay" in _get(u), timeout=30, what=url)

        again = stack.preview()
        assert not again.changes_pending and again.summary.total == 0
    finally:
        done = stack.destroy(keep_cluster=True)
    assert done.pods_removed and done.complete and not done.cluster_deleted
    assert [p.playbook for p in done.playbooks] == ["stage.yml", "teardown.yml"]
    assert all(p.ok for p in done.playbooks)
    with pytest.raises(NotApplied):
        stack.outputs()
