"""Every plugin and role of podplay.cluster documents itself through `ansible-doc` (issue 13).

Plugins and roles are found by walking the collection, so one added later is checked too.
Each runs `ansible-doc` on its own (a batch of names exits 0 even when one of them fails)
and must exit 0 with no warning. Action plugins have no `ansible-doc` type: each is
documented by the module of the same name (as ansible-test's action-plugin-docs requires).
Each role's `meta/argument_specs.yml` must document every variable of its
`defaults/main.yml`, with the same default, and every variable the role's tasks read, and
each of those variables must be in the collection README's variable tables.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

COLLECTIONS = Path(__file__).resolve().parents[3] / "ansible_collection"
COLLECTION = COLLECTIONS / "ansible_collections" / "podplay" / "cluster"
BIN = Path(sys.executable).parent
# plugins/<dir> -> ansible-doc's plugin type (action plugins are documented as modules)
DOC_TYPES = {"modules": "module", "callback": "callback", "inventory": "inventory"}


def plugins() -> list[tuple[str, str]]:
    found = []
    for directory, doc_type in DOC_TYPES.items():
        for path in sorted((COLLECTION / "plugins" / directory).glob("*.py")):
            if path.name != "__init__.py":
                found.append((doc_type, path.stem))
    return found


def roles() -> list[str]:
    return sorted(p.name for p in (COLLECTION / "roles").iterdir() if (p / "tasks").is_dir())


def ansible_doc(*args: str) -> tuple[Any, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    done = subprocess.run(
        [str(BIN / "ansible-doc"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"ansible-doc {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout, done.stderr


def test_the_walk_finds_every_kind_of_plugin() -> None:
    kinds = {doc_type for doc_type, _ in plugins()}
    assert kinds == {"module", "callback", "inventory"}
    assert len(plugins()) >= 8
    assert set(roles()) >= {"node", "runtime", "network", "control_plane", "agent", "proxy"}


@pytest.mark.parametrize(("doc_type", "name"), plugins(), ids=lambda v: str(v))
def test_ansible_doc_documents_the_plugin(doc_type: str, name: str) -> None:
    out, err = ansible_doc("-t", doc_type, "--json", f"podplay.cluster.{name}")
    assert "WARNING" not in err and "ERROR" not in err, err
    doc = json.loads(out)[f"podplay.cluster.{name}"]["doc"]
    assert doc["short_description"]
    assert doc.get("options") or (doc_type == "callback" and doc.get("description"))
    if doc_type == "module":
        assert json.loads(out)[f"podplay.cluster.{name}"]["examples"]
        attributes = doc.get("attributes") or {}
        for attribute in ("check_mode", "diff_mode"):
            assert attributes.get(attribute, {}).get("support") == "full", (name, attribute)


def test_ansible_doc_text_output_of_the_callback() -> None:
    """The callback whose DOCUMENTATION did not parse (issue 13), as a person runs it."""
    out, _ = ansible_doc("-t", "callback", "podplay.cluster.stats_json")
    assert "PODPLAY_STATS_FILE" in out


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (COLLECTION / "plugins" / "action").glob("*.py"))
)
def test_each_action_plugin_is_documented_by_its_module(name: str) -> None:
    assert (COLLECTION / "plugins" / "modules" / f"{name}.py").is_file()
    out, _ = ansible_doc("-t", "module", "--json", f"podplay.cluster.{name}")
    assert json.loads(out)[f"podplay.cluster.{name}"]["doc"]["attributes"]["action"]


def fragment_doc(name: str) -> Any:
    """A doc fragment's DOCUMENTATION, read from its source (as ansible-doc reads it)."""
    tree = ast.parse((COLLECTION / "plugins" / "doc_fragments" / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            return yaml.safe_load(ast.literal_eval(node.value))
    raise AssertionError(f"doc fragment {name} has no DOCUMENTATION")


def modules_running_the_bundle() -> list[str]:
    paths = sorted((COLLECTION / "plugins" / "modules").glob("*.py"))
    return [p.stem for p in paths if "bundle_path=" in p.read_text()]


def test_the_walk_finds_the_modules_running_the_bundle() -> None:
    assert len(modules_running_the_bundle()) >= 6


@pytest.mark.parametrize("name", modules_running_the_bundle())
def test_a_module_running_the_bundle_is_documented_by_the_fragment(name: str) -> None:
    """`bundle_path` and the platform are written once, in doc_fragments/node_bundle.py."""
    fragment = fragment_doc("node_bundle")
    out, _ = ansible_doc("-t", "module", "--json", f"podplay.cluster.{name}")
    doc = json.loads(out)[f"podplay.cluster.{name}"]["doc"]
    for key in ("description", "type", "default"):
        assert doc["options"]["bundle_path"][key] == fragment["options"]["bundle_path"][key]
    assert doc["attributes"]["platform"] == fragment["attributes"]["platform"]
    for attribute in ("check_mode", "diff_mode"):
        assert doc["attributes"][attribute]["support"] == "full"


def test_ansible_doc_lists_every_role() -> None:
    out, _ = ansible_doc("-t", "role", "-l", "--json", "podplay.cluster")
    listed = json.loads(out)
    assert sorted(listed) == [f"podplay.cluster.{r}" for r in roles()]
    for name, summary in listed.items():
        assert summary["entry_points"].get("main"), f"{name} has no documented entry point main"


def role_inputs(role: str) -> set[str]:
    """The `podplay_*` variables a role's tasks read, less what they define themselves."""
    texts = [p.read_text() for p in sorted((COLLECTION / "roles" / role).glob("*/*.yml"))]
    texts = [t for t in texts if "argument_specs:" not in t]
    defined = set()
    for path in sorted((COLLECTION / "roles" / role / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            defined.update(task.get("vars") or {})  # a task's own variables
            defined.update([task["register"]] if "register" in task else [])
    defined.add("podplay_node_bundle_copy")  # the node role's register, read by network
    used = set(re.findall(r"\b(podplay_\w+)", "\n".join(texts)))
    return used - defined


@pytest.mark.parametrize("role", roles())
def test_role_argument_specs_document_its_variables(role: str) -> None:
    out, err = ansible_doc("-t", "role", "--json", f"podplay.cluster.{role}")
    assert "WARNING" not in err, err
    entry = json.loads(out)[f"podplay.cluster.{role}"]["entry_points"]["main"]
    assert entry["short_description"] and entry["description"]
    options = entry["options"]
    defaults = yaml.safe_load((COLLECTION / "roles" / role / "defaults" / "main.yml").read_text())
    for name, value in (defaults or {}).items():
        assert name in options, f"{role}: default {name} is not in meta/argument_specs.yml"
        if isinstance(value, str) and "{{" in value:
            assert "default" not in options[name], f"{role}: {name} defaults to a template"
        else:
            assert options[name].get("default") == value, f"{role}: {name} default differs"
    undocumented = role_inputs(role) - set(options)
    assert not undocumented, f"{role}: tasks read {sorted(undocumented)} not in argument_specs"
    for name, option in options.items():
        assert option.get("description"), f"{role}: {name} has no description"
        assert option.get("type"), f"{role}: {name} has no type"
        if option.get("required"):
            assert name not in (defaults or {}), f"{role}: required {name} has a default"


def test_role_variables_are_in_the_collection_readme() -> None:
    readme = (COLLECTION / "README.md").read_text()
    missing = set()
    for role in roles():
        spec_file = COLLECTION / "roles" / role / "meta" / "argument_specs.yml"
        spec = yaml.safe_load(spec_file.read_text())
        for name in spec["argument_specs"]["main"]["options"]:
            if f"`{name}`" not in readme:
                missing.add(name)
    assert not missing, f"role variables not in the collection README: {sorted(missing)}"


ROLE_PLAY = """\
- name: One role, its variables checked by its argument specs
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - podplay.cluster.{role}
"""


@pytest.mark.parametrize(
    ("role", "extra", "named"),
    [
        # a required variable missing
        ("network", {"podplay_nodes": [], "podplay_node_pod_cidr": "10.244.1.0/24"},
         "podplay_node_address"),
        # a variable of the wrong type
        ("control_plane", {"podplay_cluster_name": "c", "podplay_nodes": [],
                           "podplay_node_address": "10.0.0.1", "podplay_pki_dir": "/nonexistent",
                           "podplay_store_client_port": "not-a-port"},
         "podplay_store_client_port"),
    ],
)  # fmt: skip
def test_a_role_refuses_bad_variables_before_its_first_task(
    tmp_path: Path, role: str, extra: dict[str, Any], named: str
) -> None:
    (tmp_path / "play.yml").write_text(ROLE_PLAY.format(role=role))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "play.yml", "-e", json.dumps(extra)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-3000:]
    assert "Validating arguments against arg spec 'main'" in out
    assert named in out.split("Validating arguments", 1)[1], out[-3000:]
    assert "ok=0" in out and "failed=1" in out, out[-3000:]
