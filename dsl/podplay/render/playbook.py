"""The playbooks beside the inventory (`site.yml`, `stage.yml`, `teardown.yml`) and `ansible.cfg`.

Every play lives in the `podplay.cluster` collection (its `playbooks/`: site, nodes, agent,
services, stage, teardown), where the roles are named once; a rendered playbook imports one
of them by name, so this file never lists roles or repeats a module's arguments.

`ansible.cfg` applies when Ansible runs from the output directory. So that
`ansible-playbook -i build/inventory.yml build/site.yml` works from anywhere too, pipelining
is also a group variable, and a `collections` link beside the playbook (see `links`) lets
Ansible find `podplay.cluster` wherever it is started.
"""

from __future__ import annotations

from podplay.plan import Plan
from podplay.render.yamltext import dump

COLLECTION = "podplay.cluster"
SSH_ARGS = "-o ControlMaster=auto -o ControlPersist=60s"
# Local node containers get fresh host keys each time they are created; real hosts keep
# theirs, so host key checking stays on for them (an unknown key is the user's to accept).
LOCAL_SSH_ARGS = f"{SSH_ARGS} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"


def _importing(name: str, playbook: str, header: str) -> str:
    """A playbook that imports the collection's playbook `playbook`, under its own name."""
    return dump(
        [{"name": name, "ansible.builtin.import_playbook": f"{COLLECTION}.{playbook}"}], header
    )


def site(plan: Plan, program: str | None) -> str:
    """The playbook converging every node: every role, in the collection's order."""
    header = (
        f'Converges cluster "{plan.cluster.name}" (written by podplay compile'
        f"{f' from {program}' if program else ''}).\n"
        "Run: ansible-playbook -i inventory.yml site.yml\n"
        f"The plays are the collection's: {COLLECTION}.site imports nodes, control_plane,\n"
        "agent and services."
    )
    return _importing(f"Converge the nodes of cluster {plan.cluster.name}", "site", header)


def stage(plan: Plan) -> str:
    """`stage.yml`: the pods bound to each node and the service table (two module calls)."""
    header = (
        "Written by podplay up for the steps of a rolling update (and destroy --keep-cluster):\n"
        "only the pods bound to each node and the service table change between steps (site.yml\n"
        "has already put the nodes, the images, the agent and the proxy in place), so the\n"
        f"collection's {COLLECTION}.stage runs just the agent role's pods task and the proxy\n"
        "role's cluster-state task."
    )
    name = f"Pods and service routing of cluster {plan.cluster.name} (one rollout step)"
    return _importing(name, "stage", header)


def teardown(plan: Plan) -> str:
    """`teardown.yml`: stop what runs pods and routing, remove the proxy's chains."""
    header = (
        "Written by podplay up; destroy --keep-cluster runs it: the nodes stay, podplay's pods\n"
        f"go ({COLLECTION}.teardown stops the agent and proxy, removes the PODPLAY-* chains)."
    )
    name = f"Stop podplay's agent and proxy on the nodes of cluster {plan.cluster.name}"
    return _importing(name, "teardown", header)


def ansible_cfg(plan: Plan, collections_path: str) -> str:
    """Settings for runs from the output directory."""
    forks = min(50, max(5, len(plan.nodes)))
    local = plan.cluster.local
    return (
        f"# Ansible settings for cluster {plan.cluster.name}, written by podplay compile.\n"
        "[defaults]\n"
        "inventory = inventory.yml\n"
        f"collections_path = {collections_path}\n"
        f"host_key_checking = {not local}\n"
        "gathering = explicit\n"
        f"forks = {forks}\n"
        "interpreter_python = auto_silent\n"
        "retry_files_enabled = False\n"
        "\n"
        "[ssh_connection]\n"
        "pipelining = True\n"
        f"ssh_args = {LOCAL_SSH_ARGS if local else SSH_ARGS}\n"
    )
