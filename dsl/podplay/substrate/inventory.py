"""The Ansible inventory of a local cluster (pure: plan in, YAML text out).

It follows the role-variable contract of the `podplay.cluster` collection (its README): the
nodes are hosts of group `nodes`, reached over SSH as root with the cluster's own key, exactly
as real hosts are; only host key checking is off, since node containers get fresh host keys
each time they are created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from podplay.dsl.cluster import default_control_plane
from podplay.plan.facts import CONTROL_PLANE_GROUP
from podplay.substrate.addressing import ClusterPlan

NODE_GROUP = "nodes"


def ssh_common_args(control_path_dir: Path | None) -> str:
    """SSH options for local nodes: no host key checks (fresh keys per node container), and
    with `control_path_dir` one persistent connection per node for tools besides Ansible
    (testinfra reads these options from the inventory too)."""
    args = [
        "-o StrictHostKeyChecking=no",
        "-o UserKnownHostsFile=/dev/null",
        "-o LogLevel=ERROR",
        "-o IdentitiesOnly=yes",
    ]
    if control_path_dir is not None:
        args += [
            "-o ControlMaster=auto",
            "-o ControlPersist=60s",
            f"-o ControlPath={control_path_dir}/%C",
        ]
    return " ".join(args)


def inventory_data(
    plan: ClusterPlan,
    *,
    ssh_key: Path,
    token_file: Path | None = None,
    node_bundle: Path | None = None,
    control_path_dir: Path | None = None,
    pki_dir: Path | None = None,
    control_plane: int | None = None,
) -> dict[str, Any]:
    """The inventory as a dict (what `inventory.yml` holds). The first `control_plane`
    nodes (default: 3 of 3 or more, else 1) form group `control_plane`, the store's members."""
    cluster_vars: dict[str, Any] = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(ssh_key),
        "ansible_ssh_common_args": ssh_common_args(control_path_dir),
        "ansible_host_key_checking": False,
        "ansible_python_interpreter": "/usr/bin/python3",
        "podplay_substrate": "local",
        "podplay_cluster_name": plan.name,
        "podplay_pod_cidr": plan.pod_cidr,
        "podplay_service_cidr": plan.service_cidr,
        "podplay_dns_ip": plan.dns_ip,
        "podplay_node_subnet": plan.subnet,
        "podplay_lb_pool": list(plan.lb_pool),
        "podplay_nodes": [
            {"name": n.name, "address": n.address, "pod_cidr": n.pod_cidr} for n in plan.nodes
        ],
    }
    if control_path_dir is not None:  # per cluster: node IPs are reused by later clusters
        cluster_vars["ansible_control_path_dir"] = str(control_path_dir)
    if token_file is not None:
        cluster_vars["podplay_agent_token_file"] = str(token_file)
    if node_bundle is not None:
        cluster_vars["podplay_node_bundle"] = str(node_bundle)
    if pki_dir is not None:
        cluster_vars["podplay_pki_dir"] = str(pki_dir)
    hosts = {
        n.name: {
            "ansible_host": n.address,
            "podplay_node_address": n.address,
            "podplay_node_pod_cidr": n.pod_cidr,
            "podplay_node_index": n.index,
            "podplay_container": n.container,
        }
        for n in plan.nodes
    }
    members = plan.nodes[: control_plane or default_control_plane(len(plan.nodes))]
    group = {
        "hosts": hosts,
        "children": {CONTROL_PLANE_GROUP: {"hosts": {n.name: {} for n in members}}},
    }
    return {"all": {"vars": cluster_vars, "children": {NODE_GROUP: group}}}


def render_inventory(plan: ClusterPlan, **kwargs: Any) -> str:
    """The inventory as YAML text, with a header saying where it came from."""
    header = (
        f"# Inventory of local podplay cluster '{plan.name}', written by "
        "`podplay cluster create`.\n# Regenerated on every create; edit the cluster, not "
        "this file.\n"
    )
    body = yaml.safe_dump(inventory_data(plan, **kwargs), sort_keys=False, default_flow_style=False)
    return header + body
