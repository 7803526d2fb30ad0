"""The stack's build directory: the plan rendered as plain Ansible, and running it.

`up` renders each plan it converges to into `.podplay/<stack>/build/` (the same files
`podplay compile` writes: inventory, group/host vars, site.yml, plan.json) and runs
ansible-playbook on them, so after an `up` the directory holds readable Ansible for exactly
what runs. Besides `site.yml` (every role) it writes two small playbooks of its own:

- `stage.yml`: only the pod manifests and the service table (two module calls), for the
  steps of a rolling update and for draining endpoints (nothing else changes between steps);
- `teardown.yml`: stops the agent and proxy and removes the proxy's `PODPLAY-*` chains
  (`destroy --keep-cluster`; the pod network's `PODPLAY-NET-*` stays with the nodes).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from podplay.errors import UserInputError
from podplay.execute import PlaybookResult, run_playbook
from podplay.plan import Plan
from podplay.render import RenderOptions, links, render
from podplay.render.inventory import NODE_GROUP
from podplay.render.yamltext import dump

MITOGEN_ENV = "PODPLAY_MITOGEN"
NODE_BUNDLE_PATH = "/opt/podplay/podplay-node.pyz"  # the node README's contract


def stage_playbook(plan: Plan) -> str:
    """`stage.yml`: the pods bound to each node and the service table, two module calls."""
    play = {
        "name": f"Pods and service routing of cluster {plan.cluster.name} (one rollout step)",
        "hosts": NODE_GROUP,
        "gather_facts": False,
        "tasks": [
            {
                "name": "Pods bound to this node",
                "podplay.cluster.pod_manifests": {"pods": "{{ podplay_pods }}"},
            },
            {
                "name": "Cluster state (services and their endpoints) for the proxy",
                "podplay.cluster.proxy_config": {
                    "cluster": "{{ podplay_cluster_name }}",
                    "node": "{{ inventory_hostname }}",
                    "address": "{{ podplay_node_address }}",
                    "nodes": "{{ podplay_nodes }}",
                    "services": "{{ podplay_services }}",
                    "pod_cidr": "{{ podplay_pod_cidr }}",
                    "service_cidr": "{{ podplay_service_cidr }}",
                    "dns_ip": "{{ podplay_dns_ip }}",
                    "cluster_domain": "{{ podplay_cluster_domain }}",
                    "node_port_range": "{{ podplay_node_port_range }}",
                    "lb": "{{ podplay_lb | default({}) }}",
                    "bundle_path": "{{ podplay_node_bundle_path | default('"
                    + NODE_BUNDLE_PATH
                    + "') }}",
                },
            },
        ],
    }
    header = (
        "Written by podplay up for the steps of a rolling update: only the pods bound to each\n"
        "node and the service table change between steps (site.yml has already put the nodes,\n"
        "the images, the agent and the proxy in place), so two module calls do it."
    )
    return dump([play], header)


def teardown_playbook(plan: Plan) -> str:
    """`teardown.yml`: stop what runs pods and routing, remove the proxy's chains."""
    play = {
        "name": f"Stop podplay's agent and proxy on the nodes of cluster {plan.cluster.name}",
        "hosts": NODE_GROUP,
        "gather_facts": False,
        "tasks": [
            {
                "name": "Agent, proxy and keepalived stopped and disabled",
                "ansible.builtin.systemd_service": {
                    "name": "{{ item }}",
                    "state": "stopped",
                    "enabled": False,
                },
                "loop": ["podplay-proxy.service", "podplay-agent.service", "keepalived.service"],
                "failed_when": False,
            },
            {
                "name": "The proxy's PODPLAY-* chains and the jumps into them removed",
                "ansible.builtin.command": {
                    "argv": ["python3", NODE_BUNDLE_PATH, "proxy", "--cleanup"]
                },
                "register": "podplay_chains",
                "changed_when": "(podplay_chains.stdout | from_json).changed",
            },
            {
                "name": "Cluster state file removed",
                "ansible.builtin.file": {"path": "/etc/podplay/cluster.json", "state": "absent"},
            },
        ],
    }
    header = "Written by podplay destroy --keep-cluster: the nodes stay, podplay's pods go."
    return dump([play], header)


def use_mitogen() -> bool:
    """Mitogen for Ansible (a dependency) halves a converge on these machines: a no-op
    site.yml on 3 nodes took 5-8 s with it, 15-24 s without. `PODPLAY_MITOGEN=0` turns it
    off; without the package installed, plain Ansible runs."""
    return os.environ.get(MITOGEN_ENV, "1") != "0"


class Workspace:
    """Renders plans into one build directory and runs playbooks from it."""

    def __init__(self, directory: Path, options: RenderOptions) -> None:
        self.directory = directory
        self.options = options
        self.nodes = 0  # of the plan last written: every node gets a fork

    @property
    def inventory(self) -> Path:
        return self.directory / "inventory.yml"

    def write(self, plan: Plan) -> None:
        """Render `plan` (and the extra playbooks) into the directory, atomically per file."""
        self.nodes = len(plan.nodes)
        files = render(plan, self.options)
        files["stage.yml"] = stage_playbook(plan)
        files["teardown.yml"] = teardown_playbook(plan)
        write_tree(self.directory, files, links(self.options))

    def run(
        self,
        playbook: str,
        *,
        verbose: bool = False,
        output: Callable[[str], None] | None = None,
    ) -> PlaybookResult:
        """ansible-playbook on one of the directory's playbooks (output kept unless verbose)."""
        return run_playbook(
            self.directory / playbook,
            self.inventory,
            forks=max(20, self.nodes),
            quiet=not verbose and output is None,
            output=output,
            mitogen=use_mitogen(),
        )


def write_tree(out: Path, files: dict[str, str], symlinks: dict[str, str]) -> None:
    """Write rendered files (unchanged ones untouched) and links; drop stale host_vars."""
    out.mkdir(parents=True, exist_ok=True)
    stale = out / "host_vars"
    if stale.is_dir():
        for old in stale.glob("*.yml"):
            if f"host_vars/{old.name}" not in files:
                old.unlink()
    for rel, text in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if target.read_text(encoding="utf-8") == text:
                continue
        except OSError:
            pass
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    for rel, dest in symlinks.items():
        link = out / rel
        if link.is_symlink() and os.readlink(link) == dest:
            continue
        if link.exists() and not link.is_symlink():
            raise UserInputError(f"{link} exists and is not a link podplay made; remove it")
        if link.is_symlink():
            link.unlink()
        link.symlink_to(dest, target_is_directory=True)
