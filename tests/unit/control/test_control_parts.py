"""The control plane's small parts: outputs, playbooks it writes, SSH argv, inspect, images."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from control_builders import facts, shop_plan, status

from podplay import paths
from podplay.control.images import needs_busybox
from podplay.control.inspect import deployments, events_for, find, ports_text, services
from podplay.control.nodeshell import ssh_argv
from podplay.control.outputs import format_outputs, outputs
from podplay.control.state import StackState
from podplay.control.workspace import Workspace
from podplay.errors import UserInputError
from podplay.plan import stages
from podplay.plan.rollout import drained, empty_plan, removed_endpoints, same_plan
from podplay.render import RenderOptions

# -- outputs ------------------------------------------------------------------------------


def test_outputs_say_how_to_reach_every_service_type() -> None:
    data = outputs(shop_plan())
    reach = {s["name"]: s["reach"] for s in data["services"]}
    backend_ip = next(s["cluster_ip"] for s in data["services"] if s["name"] == "backend")
    assert reach["backend"] == [
        f"{backend_ip}:80 (backend.default.svc.cluster.local, inside the cluster)"
    ]
    assert [r for r in reach["web"] if r.startswith("http://")] == [
        "http://172.30.9.11:30080",
        "http://172.30.9.12:30080",
        "http://172.30.9.13:30080",
    ]
    lb = next(s for s in data["services"] if s["name"] == "web-lb")
    assert lb["load_balancer_ip"].startswith("172.30.9.")
    assert f"http://{lb['load_balancer_ip']}:80 (LoadBalancer IP)" in reach["web-lb"]
    assert reach["payments"] == [
        "payments.default.svc.cluster.local -> CNAME payments.example.test (cluster DNS, from pods)"
    ]
    text = format_outputs(data)
    assert text.startswith("Outputs:\n  port  30080\n\nServices:\n  default/backend (ClusterIP)")
    assert text.endswith("\n\nTry: curl http://172.30.9.11:30080/")


# -- plans between stages -----------------------------------------------------------------


def test_drained_plan_keeps_pods_and_drops_their_endpoints() -> None:
    old = shop_plan()
    new = shop_plan(old, image="busybox:2")
    steps = stages(old, new)
    # after the first create; the stage that unbinds the first old pod (drained in the
    # stage between, where the second one leaves routing and stays bound)
    before, after = steps[1], steps[3]
    gone = removed_endpoints(before, after)
    assert len(gone) == 1
    d = drained(before, after)
    assert d.pods == before.pods
    endpoints = {f"{e.namespace}/{e.pod}@{e.ip}" for s in d.services for e in s.endpoints}
    assert not endpoints & set(gone)
    assert same_plan(new, new.model_copy(update={"rollout": []}))
    assert not same_plan(old, new)
    assert empty_plan(new).pods == [] and empty_plan(new).nodes == new.nodes


# -- playbooks written beside the rendered ones ------------------------------------------


def test_workspace_writes_the_rendered_and_the_step_playbooks(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "build", RenderOptions(collections_path=str(tmp_path / "c")))
    (tmp_path / "c").mkdir()
    ws.write(shop_plan())
    imported = {
        book: yaml.safe_load((tmp_path / "build" / book).read_text())[0][
            "ansible.builtin.import_playbook"
        ]
        for book in ("site.yml", "stage.yml", "teardown.yml")
    }
    assert imported == {
        "site.yml": "podplay.cluster.site",
        "stage.yml": "podplay.cluster.stage",
        "teardown.yml": "podplay.cluster.teardown",
    }
    before = (tmp_path / "build" / "site.yml").stat().st_mtime_ns
    ws.write(shop_plan())  # unchanged files are not rewritten
    assert (tmp_path / "build" / "site.yml").stat().st_mtime_ns == before
    assert os.readlink(tmp_path / "build" / "collections") == str(tmp_path / "c")
    assert not [p.name for p in (tmp_path / "build").rglob(".*.tmp")]  # no temporary left


def test_rendered_playbooks_pass_syntax_check(tmp_path: Path) -> None:
    ws = Workspace(
        tmp_path / "build", RenderOptions(collections_path=str(paths.collections_path()))
    )
    ws.write(shop_plan())
    bindir = Path(sys.executable).parent
    for book in ("stage.yml", "teardown.yml", "site.yml"):
        done = subprocess.run(
            [str(bindir / "ansible-playbook"), "-i", "inventory.yml", book, "--syntax-check"],
            cwd=tmp_path / "build",
            capture_output=True,
            text=True,
            env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(paths.collections_path())},
            check=False,
        )
        assert done.returncode == 0, (book, done.stdout, done.stderr)


# -- ssh ----------------------------------------------------------------------------------


def test_ssh_argv_uses_the_inventory_connection() -> None:
    node = (
        shop_plan()
        .nodes[0]
        .model_copy(
            update={
                "connection": {
                    "ansible_host": "10.0.0.5",
                    "ansible_user": "root",
                    "ansible_port": 2222,
                    "ansible_ssh_private_key_file": "/k/id",
                    "ansible_ssh_common_args": "-o ControlMaster=auto -o 'ControlPath=/c p/%C'",
                }
            }
        )
    )
    argv = ssh_argv(node, "cat /run/podplay/proxy.json")
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
    assert argv[5:] == [
        "-l", "root", "-p", "2222", "-i", "/k/id",
        "-o", "ControlMaster=auto", "-o", "ControlPath=/c p/%C",
        "10.0.0.5", "cat /run/podplay/proxy.json",
    ]  # fmt: skip
    bare = shop_plan().nodes[1].model_copy(update={"connection": {}})
    assert ssh_argv(bare, "true")[-2:] == ["172.30.9.12", "true"]


# -- get / describe data ------------------------------------------------------------------


def test_deployments_and_services_join_plan_with_live_pods() -> None:
    plan = shop_plan()
    web = [p for p in plan.pods if p.deployment == "web"]
    live = [status(p) for p in plan.pods if p is not web[0]] + [status(web[0], ready=False)]
    rows = {d["name"]: d for d in deployments(plan, live)}
    assert (rows["web"]["replicas"], rows["web"]["ready"], rows["web"]["up_to_date"]) == (3, 2, 3)
    svc = {s["name"]: s for s in services(plan, live)}
    assert [e["ready"] for e in svc["web"]["endpoints"]].count(False) == 1
    assert all(e["address"].endswith(":8080") for e in svc["web"]["endpoints"])
    assert set(svc["web"]) >= {
        "name", "namespace", "type", "cluster_ip", "ports", "load_balancer_ip",
        "external_name", "endpoints",
    }  # fmt: skip
    assert ports_text(svc["web"]) == "80:30080/TCP"
    assert svc["payments"]["endpoints"] == [] and svc["payments"]["cluster_ip"] is None
    assert find(list(svc.values()), "service", "web", None)["type"] == "NodePort"
    with pytest.raises(UserInputError, match="no service nope"):
        find(list(svc.values()), "service", "nope", None)


def test_get_counts_ready_as_ups_wait_does_on_the_planned_node_with_the_planned_ip() -> None:
    plan = shop_plan()
    web = [p for p in plan.pods if p.deployment == "web"]
    elsewhere = {**status(web[1]), "node": "node9"}  # a node the pod was moved away from
    live = [status(web[0], ip="10.244.9.9"), elsewhere, status(web[2], phase="Pending")]
    rows = {d["name"]: d for d in deployments(plan, live)}
    assert rows["web"]["ready"] == 0
    assert [p["ready"] for p in rows["web"]["pods"]] == [False, False, False]
    rows = {d["name"]: d for d in deployments(plan, [status(p) for p in web])}
    assert rows["web"]["ready"] == 3


def test_events_for_keeps_the_pods_latest_events_in_order() -> None:
    events = [
        {"time": "2026-01-01T00:00:02Z", "namespace": "default", "pod": "a", "reason": "Started"},
        {"time": "2026-01-01T00:00:01Z", "namespace": "default", "pod": "a", "reason": "Pulled"},
        {"time": "2026-01-01T00:00:03Z", "namespace": "default", "pod": "b", "reason": "Started"},
    ]
    chosen = events_for(events, {("default", "a")})
    assert [e["reason"] for e in chosen] == ["Pulled", "Started"]
    assert len(events_for(events * 20, {("default", "a")}, limit=5)) == 5


# -- images and state ---------------------------------------------------------------------


def test_busybox_is_added_only_when_copied_and_missing(tmp_path: Path) -> None:
    assert needs_busybox("FROM scratch\nCOPY busybox /bin/busybox\n", tmp_path)
    assert needs_busybox("FROM scratch\nadd --chown=0:0 busybox /bin/\n", tmp_path)
    assert not needs_busybox("FROM scratch\nCOPY www /www\n", tmp_path)
    (tmp_path / "busybox").write_bytes(b"x")
    assert not needs_busybox("FROM scratch\nCOPY busybox /bin/busybox\n", tmp_path)


def test_journal_records_previous_plan_and_stage(tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    with state.lock("podplay up"):
        state.begin({"v": 2}, "podplay up", previous={"v": 1}, stage=0)
        state.advance("converge", 3)
        state.advance("wait")
    journal = state.journal()
    assert journal is not None
    assert (journal.previous, journal.stage, journal.phase) == ({"v": 1}, 3, "wait")


def test_facts_builder_is_consistent_with_the_plan() -> None:
    assert [n.address for n in shop_plan().nodes] == [n.address for n in facts().nodes]


def test_forget_leaves_only_the_lock(tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    with state.lock("podplay destroy"):
        state.commit({"v": 1}, {"exports": {}})
        (state.directory / "last-up.json").write_text("{}")
        (state.directory / "build" / "host_vars").mkdir(parents=True)
        state.forget()
    assert sorted(p.name for p in state.directory.iterdir()) == ["lock"]
    assert state.applied_plan() is None
