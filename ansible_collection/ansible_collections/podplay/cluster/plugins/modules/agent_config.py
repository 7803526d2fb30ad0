#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.agent_config (thin: logic in module_utils/_agent_config)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: agent_config
short_description: Write a node agent's configuration, API token and systemd unit in one step
description:
  - Writes C(/etc/podplay/agent.json), the agent API token (mode 0600) and the
    C(podplay-agent) systemd unit, each atomically and only when its content differs.
  - The unit names the node bundle's sha256, so a new bundle reports I(unit_changed).
  - Supports check mode and diff (the token is never shown).
options:
  node:
    description: This node's name (inventory host name).
    type: str
    required: true
  address:
    description: This node's cluster address; the agent API listens there.
    type: str
    required: true
  pod_cidr:
    description: This node's pod CIDR.
    type: str
    required: true
  cluster:
    description: Cluster name.
    type: str
    required: true
  token:
    description: The cluster's bearer token for the agent API.
    type: str
    required: true
  pause_image:
    description: The pod sandbox image reference (empty when none is configured yet).
    type: str
    default: ""
  api_port:
    description: Agent API port.
    type: int
    default: 10250
  bridge_network:
    description: The Docker network pods attach to.
    type: str
    default: podplay
  dns_ip:
    description: The cluster DNS virtual IP.
    type: str
    default: 10.96.0.10
  cluster_domain:
    description: The cluster DNS domain.
    type: str
    default: cluster.local
  backoff:
    description: Crash-loop backoff override C({initial, maximum, reset_after}) in seconds.
    type: dict
    default: {}
  bundle_path:
    description: The node bundle on the node (runs the agent).
    type: path
    default: /opt/podplay/podplay-node.pyz
  config_path:
    description: Where agent.json is written.
    type: path
    default: /etc/podplay/agent.json
  token_path:
    description: Where the token is written (mode 0600).
    type: path
    default: /etc/podplay/token
  unit_path:
    description: Where the systemd unit is written.
    type: path
    default: /etc/systemd/system/podplay-agent.service
  pods_dir:
    description: The pod manifest directory.
    type: path
    default: /etc/podplay/pods
  cluster_file:
    description: The cluster state file (written by the proxy role).
    type: path
    default: /etc/podplay/cluster.json
  state_dir:
    description: The agent's own state directory.
    type: path
    default: /var/lib/podplay
author: podplay developers
"""

EXAMPLES = r"""
- name: Agent configuration, API token and systemd unit
  podplay.cluster.agent_config:
    node: "{{ inventory_hostname }}"
    address: "{{ podplay_node_address }}"
    pod_cidr: "{{ podplay_node_pod_cidr }}"
    cluster: "{{ podplay_cluster_name }}"
    token: "{{ lookup('ansible.builtin.file', podplay_agent_token_file) }}"
    pause_image: "{{ podplay_pause_image.ref }}"
  register: podplay_agent
"""

RETURN = r"""
config_changed:
  description: agent.json was (or would be) rewritten.
  type: bool
  returned: always
token_changed:
  description: The token file was (or would be) rewritten.
  type: bool
  returned: always
unit_changed:
  description: The unit was (or would be) rewritten; reload systemd and restart the agent.
  type: bool
  returned: always
restart:
  description: Anything the running agent reads at start changed; restart it.
  type: bool
  returned: always
"""


from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._agent_config import (  # noqa: E402
    agent_config,
    config_text,
    token_text,
    unit_text,
)
from ansible_collections.podplay.cluster.plugins.module_utils._files import (  # noqa: E402
    file_mode,
    read_text,
    sha256_file,
    write_atomic,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node=dict(type="str", required=True),
            address=dict(type="str", required=True),
            pod_cidr=dict(type="str", required=True),
            cluster=dict(type="str", required=True),
            token=dict(type="str", required=True, no_log=True),
            pause_image=dict(type="str", default=""),
            api_port=dict(type="int", default=10250),
            bridge_network=dict(type="str", default="podplay"),
            dns_ip=dict(type="str", default="10.96.0.10"),
            cluster_domain=dict(type="str", default="cluster.local"),
            backoff=dict(type="dict", default={}),
            bundle_path=dict(type="path", default="/opt/podplay/podplay-node.pyz"),
            config_path=dict(type="path", default="/etc/podplay/agent.json"),
            token_path=dict(type="path", default="/etc/podplay/token", no_log=False),
            unit_path=dict(type="path", default="/etc/systemd/system/podplay-agent.service"),
            pods_dir=dict(type="path", default="/etc/podplay/pods"),
            cluster_file=dict(type="path", default="/etc/podplay/cluster.json"),
            state_dir=dict(type="path", default="/var/lib/podplay"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["token"].strip():
        module.fail_json(msg="agent_config: token: the agent API token is empty")
    files = [
        ("config", p["config_path"], config_text(agent_config(p)), 0o644),
        ("token", p["token_path"], token_text(p["token"]), 0o600),
        ("unit", p["unit_path"], unit_text(p["bundle_path"], sha256_file(p["bundle_path"]),
                                           p["config_path"]), 0o644),
    ]  # fmt: skip
    result = dict(changed=False, config_changed=False, token_changed=False, unit_changed=False)
    diffs = []
    for kind, path, text, mode in files:
        before = read_text(path)
        if before == text and file_mode(path) == mode:
            continue
        result[kind + "_changed"] = True
        result["changed"] = True
        if kind != "token":
            diffs.append(
                dict(before_header=path, after_header=path, before=before or "", after=text)
            )
        if not module.check_mode:
            write_atomic(path, text, mode)
    result["restart"] = result["changed"]
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
