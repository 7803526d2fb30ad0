"""`site.yml` (the roles, in the collection README's order) and `ansible.cfg`.

`ansible.cfg` applies when Ansible runs from the output directory. So that
`ansible-playbook -i build/inventory.yml build/site.yml` works from anywhere too, pipelining
is also a group variable, and a `collections` link beside the playbook (see `links`) lets
Ansible find `podplay.cluster` wherever it is started.
"""

from __future__ import annotations

from podplay.plan import Plan
from podplay.render.inventory import NODE_GROUP
from podplay.render.yamltext import dump

ROLES = ("node", "runtime", "network", "control_plane", "agent", "proxy")
SSH_ARGS = "-o ControlMaster=auto -o ControlPersist=60s"
# Local node containers get fresh host keys each time they are created; real hosts keep
# theirs, so host key checking stays on for them (an unknown key is the user's to accept).
LOCAL_SSH_ARGS = f"{SSH_ARGS} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"


def site(plan: Plan, program: str | None) -> str:
    """The playbook converging every node."""
    header = (
        f'Converges cluster "{plan.cluster.name}" (written by podplay compile'
        f"{f' from {program}' if program else ''}).\n"
        "Run: ansible-playbook -i inventory.yml site.yml"
    )
    play = {
        "name": f"Converge the nodes of cluster {plan.cluster.name}",
        "hosts": NODE_GROUP,
        "gather_facts": False,
        "roles": [{"role": f"podplay.cluster.{r}"} for r in ROLES],
    }
    return dump([play], header)


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
