#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.agent_config (thin: the node bundle writes the files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: agent_config
short_description: A node agent's configuration, API token, systemd unit and service in one step
description:
  - Hands the desired agent configuration and token to the node bundle
    (C(podplay-node.pyz files apply agent)), which checks it with the node contract and writes
    C(/etc/podplay/agent.json), the agent API token (mode 0600) and the C(podplay-agent)
    systemd unit, each atomically and only when its content differs.
  - The unit names the node bundle's sha256, so a new bundle reports I(unit_changed).
  - Then (I(service), the default) runs the services from what changed, with systemctl. On a
    new bundle the C(podplay-proxy) service is restarted first (the new agent serves its API
    over TLS only, which an older proxy cannot read); systemd is reloaded when the unit
    changed; C(podplay-agent) is enabled, and restarted when its config, token, unit or
    bundle changed, else started if it is not running. Restarting the agent restarts no
    pod (it adopts them).
  - Options left unset take the node contract's defaults (see the node README).
  - Supports check mode and diff (the token is never shown). In check mode on a node whose
    bundle is not installed yet, reports a change with a message instead of failing.
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
    description: The pod sandbox image reference (unset or empty when none is configured yet).
    type: str
  api_port:
    description: Agent API port (unset, the contract's 10250).
    type: int
  bridge_network:
    description: The Docker network pods attach to (unset, C(podplay)).
    type: str
  dns_ip:
    description: The cluster DNS virtual IP (unset, C(10.96.0.10)).
    type: str
  cluster_domain:
    description: The cluster DNS domain (unset, C(cluster.local)).
    type: str
  oci_runtime:
    description:
      - The engine's name of the OCI runtime pods run under (the runtime role registers it,
        module M(podplay.cluster.engine_runtime)). Unset or empty, the engine's default
        runtime.
    type: str
  backoff:
    description: Crash-loop backoff override C({initial, maximum, reset_after}) in seconds.
    type: dict
    default: {}
  config_path:
    description: Where agent.json is written (unset, C(/etc/podplay/agent.json)).
    type: path
  token_path:
    description: Where the token is written, mode 0600 (unset, C(/etc/podplay/token)).
    type: path
  unit_path:
    description:
      - Where the systemd unit is written (unset, C(/etc/systemd/system/podplay-agent.service)).
    type: path
  pods_dir:
    description: The pod manifest directory (unset, C(/etc/podplay/pods)).
    type: path
  cluster_file:
    description:
      - The cluster state file, written by the proxy role (unset, C(/etc/podplay/cluster.json)).
    type: path
  state_dir:
    description: The agent's own state directory (unset, C(/var/lib/podplay)).
    type: path
  service:
    description:
      - Bring the C(podplay-agent) service (and, on a new bundle, the C(podplay-proxy)
        service) to the state the files call for. C(false) writes the files only.
    type: bool
    default: true
extends_documentation_fragment:
  - podplay.cluster.node_bundle
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
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
proxy_restart:
  description:
    - A new bundle on a node where the podplay-proxy unit exists; the proxy is restarted
      before the agent (the new agent serves its API over TLS only, which an older proxy
      cannot read).
  type: bool
  returned: always
services:
  description: The systemctl commands run (or, in check mode, that would run), in order.
  type: list
  elements: str
  returned: always
  sample: ["systemctl daemon-reload", "systemctl restart podplay-agent.service"]
"""


from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._bundle import (  # noqa: E402
    BUNDLE_PATH,
    files_apply,
)
from ansible_collections.podplay.cluster.plugins.module_utils._systemd import (  # noqa: E402
    agent_steps,
    converge_units,
    report,
)

# Options that are agent.json fields of the same name (token_path is its `token_file`).
CONFIG_OPTIONS = (
    "node", "address", "pod_cidr", "cluster", "pause_image", "api_port", "bridge_network",
    "dns_ip", "cluster_domain", "oci_runtime", "backoff", "pods_dir", "cluster_file", "state_dir",
)  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node=dict(type="str", required=True),
            address=dict(type="str", required=True),
            pod_cidr=dict(type="str", required=True),
            cluster=dict(type="str", required=True),
            token=dict(type="str", required=True, no_log=True),
            pause_image=dict(type="str"),
            api_port=dict(type="int"),
            bridge_network=dict(type="str"),
            dns_ip=dict(type="str"),
            cluster_domain=dict(type="str"),
            oci_runtime=dict(type="str"),
            backoff=dict(type="dict", default={}),
            bundle_path=dict(type="path", default=BUNDLE_PATH),
            config_path=dict(type="path"),
            token_path=dict(type="path", no_log=False),
            unit_path=dict(type="path"),
            pods_dir=dict(type="path"),
            cluster_file=dict(type="path"),
            state_dir=dict(type="path"),
            service=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    config = dict((k, p[k]) for k in CONFIG_OPTIONS if p[k] is not None and p[k] != {})
    if p["token_path"]:
        config["token_file"] = p["token_path"]
    desired = dict(config=config, token=p["token"], config_path=p["config_path"],
                   unit_path=p["unit_path"])  # fmt: skip
    would_change = dict(config_changed=True, token_changed=True, unit_changed=True, restart=True,
                        proxy_restart=False, services=[])  # fmt: skip
    result = files_apply(module, "agent", desired, "agent_config: ", would_change)
    result["services"] = []
    if p["service"]:
        daemon_reload, steps = agent_steps(result)
        done = converge_units(module, daemon_reload, steps, "agent_config: ")
        result["services"] = report(done)
    result["changed"] = bool(result.get("changed") or result["services"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
