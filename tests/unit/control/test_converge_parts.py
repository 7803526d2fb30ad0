"""Which parts of site.yml a converge runs (`podplay.render.parts`): digests of each part's
inputs per node, the decision from them, and the tags in the collection they name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from control_builders import shop_plan

from podplay import paths
from podplay.plan import ImagePlan, Plan
from podplay.render import RenderOptions
from podplay.render.parts import (
    APP_PARTS,
    PARTS,
    ControllerFiles,
    app_only,
    converge_scope,
    part_digests,
)

COLLECTION = paths.collection_dir()
OPTIONS = RenderOptions(
    collections_path="/collections",
    node_bundle="/cache/podplay-node.pyz",
    agent_token_file="/clusters/shop/token",
    pki_dir="/clusters/shop/pki",
)
FILES = ControllerFiles(
    digests={
        "bundle": "b1",
        "token": "t1",
        "pki/ca.crt": "ca1",
        **{f"pki/nodes/node{i}.{ext}": f"{ext}{i}" for i in (1, 2, 3) for ext in ("crt", "key")},
    },
    collection="c1",
    nodes={"node1": "id1", "node2": "id2", "node3": "id3"},
)
NODES = ["node1", "node2", "node3"]


def changed_parts(before: Plan, after: Plan, files: ControllerFiles = FILES) -> dict[str, set]:
    """node → the parts whose digest differs between two plans (and controller files)."""
    old, new = part_digests(before, OPTIONS, FILES), part_digests(after, OPTIONS, files)
    return {n: {p for p in PARTS if old[n][p] != new[n][p]} for n in new}


def test_digests_are_stable_and_cover_every_part_of_every_node() -> None:
    plan = shop_plan()
    first, again = part_digests(plan, OPTIONS, FILES), part_digests(shop_plan(), OPTIONS, FILES)
    assert first == again
    assert sorted(first) == NODES and all(tuple(d) == PARTS for d in first.values())


def test_scaling_changes_only_pods_and_routing() -> None:
    before = shop_plan(replicas=3)
    after = shop_plan(before, replicas=5)
    changed = changed_parts(before, after)
    assert set().union(*changed.values()) == {"pods", "services"}
    assert all(parts == {"pods", "services"} for parts in changed.values())


def test_a_new_image_changes_only_the_app_part() -> None:
    before = shop_plan(image="busybox:1")
    after = shop_plan(before, image="busybox:2")  # pulled by the agents: pods replaced
    assert set().union(*changed_parts(before, after).values()) == {"pods", "services"}
    built = ImagePlan(name="web", ref="podplay/web:2", id="sha256:2")  # side-loaded
    rebuilt = after.model_copy(update={"images": [built]})
    assert set().union(*changed_parts(before, rebuilt).values()) == set(APP_PARTS)


def test_a_new_node_bundle_changes_every_part_that_runs_it() -> None:
    plan = shop_plan()
    files = ControllerFiles({**FILES.digests, "bundle": "b2"}, FILES.collection, FILES.nodes)
    changed = changed_parts(plan, plan, files)
    assert changed["node1"] == set(PARTS) - {"runtime", "images"}


def test_a_reissued_certificate_changes_that_node_s_control_plane_only() -> None:
    plan = shop_plan()
    files = ControllerFiles(
        {**FILES.digests, "pki/nodes/node2.crt": "other"}, FILES.collection, FILES.nodes
    )
    assert changed_parts(plan, plan, files) == {"node1": set(), "node2": {"control_plane"},
                                                "node3": set()}  # fmt: skip


@pytest.mark.parametrize(
    "files",
    [
        ControllerFiles(FILES.digests, "c2", FILES.nodes),  # another collection: every role
        ControllerFiles(FILES.digests, FILES.collection, {**FILES.nodes, "node3": "id9"}),
    ],
    ids=["new collection", "recreated node3"],
)
def test_new_roles_or_a_recreated_machine_change_every_part(files: ControllerFiles) -> None:
    plan = shop_plan()
    changed = changed_parts(plan, plan, files)
    assert changed["node3"] == set(PARTS)
    assert changed["node1"] == (set(PARTS) if files.collection == "c2" else set())


def test_scope_runs_what_differs_or_is_unknown_on_the_hosts_given() -> None:
    desired = part_digests(shop_plan(), OPTIONS, FILES)
    assert converge_scope(desired, desired, NODES).empty
    everything = converge_scope(desired, {}, NODES)
    assert everything.everything and everything.hosts == tuple(NODES)
    assert converge_scope(desired, desired, NODES, full=True).everything

    recorded = {n: dict(d) for n, d in desired.items()}
    recorded["node2"]["pods"] = "old"
    del recorded["node3"]["network"]
    scope = converge_scope(desired, recorded, ["node1", "node2"])  # node3 is left out
    assert (scope.tags, scope.hosts) == (("pods",), ("node2",))
    scope = converge_scope(desired, recorded, NODES)
    assert scope.tags == ("network", "pods") and scope.hosts == ("node2", "node3")
    assert scope.needed == {"node2": ("pods",), "node3": ("network",)}


def test_the_proxy_part_brings_its_config_along() -> None:
    desired = part_digests(shop_plan(), OPTIONS, FILES)
    recorded = {n: {p: d for p, d in parts.items() if p != "proxy"} for n, parts in desired.items()}
    assert converge_scope(desired, recorded, NODES).tags == ("services", "proxy")


# ---- the contract with the collection: every part is a tag, every task of site.yml has one


def _tasks(path: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text())


def test_every_task_of_site_yml_carries_a_part_tag_and_every_part_is_one() -> None:
    tags: set[str] = set()
    for book in ("nodes", "control_plane", "agent", "services"):
        for play in _tasks(COLLECTION / "playbooks" / f"{book}.yml"):
            for role in play["roles"]:
                name = role if isinstance(role, str) else role["role"]
                role_tags = set() if isinstance(role, str) else set(role.get("tags", []))
                for task in _tasks(COLLECTION / "roles" / name.split(".")[-1] / "tasks/main.yml"):
                    own = role_tags | set(task.get("tags", []))
                    assert own and own <= set(PARTS), (name, task["name"], own)
                    tags |= own
    assert tags == set(PARTS)


def test_app_only_when_just_pods_images_services_change_and_no_lb_ip_comes_or_goes() -> None:
    """The converge a stage play can do (no keepalived change, no other role)."""
    before = shop_plan()
    scaled = shop_plan(before, replicas=5)
    digests = lambda p: part_digests(p, OPTIONS, FILES)  # noqa: E731
    scope = converge_scope(digests(scaled), digests(before), NODES)
    assert set(scope.tags) <= set(APP_PARTS) and app_only(scope, before, scaled)
    assert not app_only(scope, None, scaled)  # nothing known of before: site.yml
    moved = before.model_copy(
        update={"services": [s.model_copy(update={"load_balancer_ip": "172.30.9.99"})
                             if s.load_balancer_ip else s for s in before.services]}
    )  # fmt: skip
    assert not app_only(scope, moved, scaled)  # keepalived.conf changes: site.yml's proxy role
    bundle = ControllerFiles({**FILES.digests, "bundle": "b2"}, FILES.collection, FILES.nodes)
    wider = converge_scope(part_digests(scaled, OPTIONS, bundle), digests(before), NODES)
    assert "agent" in wider.tags and not app_only(wider, before, scaled)
    assert not app_only(converge_scope(digests(before), digests(before), NODES), before, before)
