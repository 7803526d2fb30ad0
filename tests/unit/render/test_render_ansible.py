"""The rendered project is real Ansible: it parses, syntax-checks and passes ansible-lint.

Runs the real tools (ansible-inventory, ansible-playbook --syntax-check, ansible-lint) on a
freshly compiled golden case, against the real collection and against a throwaway copy of it
whose role task files do nothing (so the checks of our own files do not depend on the roles).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden import CASES_DIR, compile_case

from podplay import paths
from podplay.plan import Plan
from podplay.render import step_playbooks

BIN = Path(sys.executable).parent


def compiled(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "out"
    assert compile_case(CASES_DIR / case, out, tmp_path / "home", monkeypatch) == 0
    return out


def empty_roles_collection(root: Path) -> Path:
    """`podplay.cluster` with its own playbooks, and roles whose task files do nothing."""
    base = root / "ansible_collections" / "podplay" / "cluster"
    real = paths.collections_path() / "ansible_collections" / "podplay" / "cluster"
    (base / "meta").mkdir(parents=True)
    shutil.copy(real / "galaxy.yml", base / "galaxy.yml")
    shutil.copy(real / "meta" / "runtime.yml", base / "meta" / "runtime.yml")
    shutil.copytree(real / "playbooks", base / "playbooks")
    for task_file in (real / "roles").glob("*/tasks/*.yml"):
        empty = base / task_file.relative_to(real)
        empty.parent.mkdir(parents=True, exist_ok=True)
        empty.write_text("---\n- name: Nothing\n  ansible.builtin.debug:\n    msg: empty role\n")
    return root


def run(args: list[str], cwd: Path, collections: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["ANSIBLE_LOCAL_TEMP"] = str(cwd / ".ansible-tmp")
    if collections is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_inventory_and_variables_load_as_ansible_sees_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = compiled("shop-on-cluster", tmp_path, monkeypatch)
    result = run([str(BIN / "ansible-inventory"), "-i", "inventory.yml", "--list"], out)
    assert result.returncode == 0, result.stderr
    hostvars = json.loads(result.stdout)["_meta"]["hostvars"]
    assert sorted(hostvars) == ["node1", "node2", "node3"]
    plan = json.loads((out / "plan.json").read_text())
    for node in plan["nodes"]:
        seen = hostvars[node["name"]]
        assert seen["ansible_host"] == node["address"] == seen["podplay_node_address"]
        assert seen["podplay_node_pod_cidr"] == node["pod_cidr"]
        assert [p["name"] for p in seen["podplay_pods"]] == sorted(
            p["name"] for p in plan["pods"] if p["node"] == node["name"]
        )
        assert seen["podplay_services"] == json.loads(json.dumps(plan["services"]))
        assert seen["ansible_pipelining"] is True


@pytest.mark.parametrize("case", ["shop", "hosts"])
def test_site_syntax_checks_with_the_collection_layout(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = compiled(case, tmp_path, monkeypatch)
    (out / "collections").unlink()  # use the empty roles below, not the real collection
    roles = empty_roles_collection(tmp_path / "collection")
    result = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "out/inventory.yml",
            "out/site.yml",
            "--syntax-check",
        ],
        tmp_path,
        roles,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_site_syntax_checks_against_the_real_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled("shop-on-cluster", tmp_path, monkeypatch)
    # from elsewhere: Ansible finds the collection through the `collections` link
    result = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "out/inventory.yml",
            "out/site.yml",
            "--syntax-check",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_project_passes_ansible_lint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = compiled("shop-on-cluster", tmp_path, monkeypatch)
    # and the playbooks `up` writes beside them
    plan = Plan.from_json((out / "plan.json").read_text())
    for rel, text in step_playbooks(plan).items():
        (out / rel).write_text(text)
    (out / "collections").unlink()
    roles = empty_roles_collection(tmp_path / "collection")
    result = run(
        [str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor", "."],
        out,
        roles,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failure(s), 0 warning(s)" in result.stdout + result.stderr
