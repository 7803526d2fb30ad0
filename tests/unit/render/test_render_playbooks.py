"""The playbooks: rendered ones import the collection's, whose plays name each role once.

`stage.yml` and `teardown.yml` (written by `up` beside what `podplay compile` writes) are
compared with golden files under steps/<case>/, rendered from the case's golden plan.json
(`PODPLAY_UPDATE_GOLDEN=1` rewrites them). The collection's plays are read as YAML: the role
order, and the two task files a rollout step runs, exist once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from golden import CASES_DIR, UPDATE

from podplay import paths
from podplay.plan import Plan
from podplay.render import step_playbooks
from podplay.render.playbook import site

STEPS_DIR = Path(__file__).parent / "steps"
COLLECTION = paths.collections_path() / "ansible_collections" / "podplay" / "cluster"
IMPORT = "ansible.builtin.import_playbook"


def golden_plan(case: str) -> Plan:
    return Plan.from_json((CASES_DIR / case / "expected" / "plan.json").read_text())


def collection_playbook(name: str) -> list[dict[str, Any]]:
    assert name.startswith("podplay.cluster."), name
    path = COLLECTION / "playbooks" / f"{name.removeprefix('podplay.cluster.')}.yml"
    return yaml.safe_load(path.read_text())


def roles_run_by(name: str) -> list[str]:
    """The roles a collection playbook applies, in order, following its imports."""
    out: list[str] = []
    for play in collection_playbook(name):
        if IMPORT in play:
            out += roles_run_by(play[IMPORT])
        else:
            out += [r if isinstance(r, str) else r["role"] for r in play.get("roles", [])]
    return out


def tasks_of(path: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", ["shop", "hosts"])
def test_step_playbooks_match_golden(case: str) -> None:
    files = step_playbooks(golden_plan(case))
    assert sorted(files) == ["stage.yml", "teardown.yml"]
    for rel, text in files.items():
        expected = STEPS_DIR / case / rel
        if UPDATE:
            expected.parent.mkdir(parents=True, exist_ok=True)
            expected.write_text(text)
        assert text == expected.read_text(), f"steps/{case}/{rel} differs from the golden file"


@pytest.mark.parametrize(
    ("book", "imported"),
    [("stage.yml", "podplay.cluster.stage"), ("teardown.yml", "podplay.cluster.teardown")],
)
def test_each_step_playbook_imports_one_collection_playbook_naming_the_cluster(
    book: str, imported: str
) -> None:
    [play] = yaml.safe_load(step_playbooks(golden_plan("shop"))[book])
    assert play == {"name": play["name"], IMPORT: imported}
    assert "cluster shop" in play["name"]
    assert (COLLECTION / "playbooks" / f"{imported.split('.')[-1]}.yml").is_file()


def test_site_applies_the_roles_in_the_collection_readme_s_order() -> None:
    [play] = yaml.safe_load(site(golden_plan("shop"), "app.py"))
    assert play[IMPORT] == "podplay.cluster.site"
    readme = (COLLECTION / "README.md").read_text()
    table = readme.split("## Roles", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    assert roles_run_by("podplay.cluster.site") == [f"podplay.cluster.{r}" for r in documented]
    assert documented == ["node", "runtime", "network", "control_plane", "agent", "proxy"]


def test_a_rollout_step_runs_the_roles_own_pods_and_cluster_state_tasks() -> None:
    """stage.yml repeats no module argument: it imports the task files the roles import."""
    [play] = collection_playbook("podplay.cluster.stage")
    roles = [t["ansible.builtin.import_role"] for t in play["tasks"]]
    imported = [(r["name"], r["tasks_from"]) for r in roles]
    assert imported == [("podplay.cluster.agent", "pods"), ("podplay.cluster.proxy", "config")]
    for role, task_file, modules in [
        ("agent", "pods", ["podplay.cluster.store_table", "podplay.cluster.pod_manifests"]),
        ("proxy", "config", ["podplay.cluster.proxy_config"]),
    ]:
        tasks = COLLECTION / "roles" / role / "tasks"
        found = tasks_of(tasks / f"{task_file}.yml")
        # the module calls, with their arguments, live here, in this order
        assert [next(m for m in modules if m in t) for t in found] == modules
        main = [t.get("ansible.builtin.import_tasks") for t in tasks_of(tasks / "main.yml")]
        assert f"{task_file}.yml" in main  # ... and site.yml runs the very same tasks
        others = [t for t in tasks_of(tasks / "main.yml") if any(m in t for m in modules)]
        assert others == []


def test_the_binding_table_is_written_once_from_a_reachable_control_plane_member() -> None:
    """Once per play (a rollout step too), before any node's pod files change."""
    tasks = tasks_of(COLLECTION / "roles" / "agent" / "tasks" / "pods.yml")
    table = tasks[0]
    assert table["run_once"] is True
    assert "groups['control_plane']" in table["delegate_to"]
    assert "ansible_play_hosts" in table["delegate_to"]  # reachable: still in the play
    args = table["podplay.cluster.store_table"]
    assert "groups['nodes']" in args["pods"]  # every node's pods, not only this one's
    assert args["nodes"] == "{{ podplay_node_specs }}"


def test_teardown_stops_the_daemons_and_removes_chains_with_the_node_bundle() -> None:
    """The chain removal itself is the proxy's `--cleanup` (tests/unit/proxy)."""
    [play] = collection_playbook("podplay.cluster.teardown")
    assert play["hosts"] == "nodes"
    assert len(play["tasks"]) == 4
    table, stop, chains, state = play["tasks"]
    assert table["ansible.builtin.command"]["argv"][2:] == ["store", "clear-table"]
    assert table["run_once"] is True and "control_plane" in table["delegate_to"]
    assert set(stop["loop"]) == {
        "podplay-proxy.service",
        "podplay-agent.service",
        "keepalived.service",
    }
    argv = chains["ansible.builtin.command"]["argv"]
    assert "/opt/podplay/podplay-node.pyz" in argv[1] and argv[2:] == ["proxy", "--cleanup"]
    assert state["ansible.builtin.file"] == {"path": "/etc/podplay/cluster.json", "state": "absent"}


@pytest.mark.parametrize("name", ["site", "nodes", "agent", "services"])
def test_the_repository_s_playbooks_import_the_collection_s(name: str) -> None:
    """`ansible-playbook playbooks/site.yml` runs the very plays compile's site.yml runs."""
    repo = paths.repo_root()
    assert repo is not None
    plays = yaml.safe_load((repo / "playbooks" / f"{name}.yml").read_text())
    assert [set(p) for p in plays] == [{"name", IMPORT}]
    assert plays[0][IMPORT] == f"podplay.cluster.{name}"
