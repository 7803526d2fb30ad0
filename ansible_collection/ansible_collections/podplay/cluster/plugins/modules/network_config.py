#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.network_config (thin: the node bundle sets the network up)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: network_config
short_description: A node's kernel settings and whole pod network state in one step
description:
  - Writes the kernel settings routed pod traffic needs (C(net.ipv4.ip_forward = 1), and
    C(net.bridge.bridge-nf-call-iptables = 1) where the bridge netfilter module exists) to
    I(sysctl_path) when they differ, and applies them (restarts C(systemd-sysctl.service)).
  - Then hands the desired network.json to the node bundle (C(podplay-node.pyz network apply
    --desired -)), which checks it with the node contract and converges the node's network,
    network.json and the boot unit C(podplay-network.service) (written when they differ,
    enabled, restarted when the unit changed), the pod bridge, the routes to the other
    nodes' pod CIDRs and the C(PODPLAY-NET-*) iptables chains.
  - Supports check mode and diff (the kernel settings, network.json and the unit before and
    after). In check mode on a node whose bundle is not installed yet, or when
    I(bundle_pending) says a real run installs a new one first, reports a change with a
    message instead of asking the installed bundle.
options:
  network:
    description:
      - The desired network.json (format in the node README, C(dsl/podplay/node/README.md)), with
        C(node), C(address), C(pod_cidr), C(cluster_pod_cidr), C(service_cidr),
        C(bridge_network), C(bridge_name), C(nodes), C(node_only_ports).
    type: dict
    required: true
  config_path:
    description: Where network.json is written.
    type: path
    default: /etc/podplay/network.json
  sysctl_path:
    description: Where the kernel settings are persisted.
    type: path
    default: /etc/sysctl.d/90-podplay.conf
  bundle_pending:
    description:
      - A new node bundle is about to be installed (the node role's copy reports a change in
        check mode); in check mode the installed one is then not asked.
    type: bool
    default: false
extends_documentation_fragment:
  - podplay.cluster.node_bundle
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Kernel settings and pod network (network.json, boot unit, bridge, routes, NAT)
  podplay.cluster.network_config:
    network:
      node: "{{ inventory_hostname }}"
      address: "{{ podplay_node_address }}"
      pod_cidr: "{{ podplay_node_pod_cidr }}"
      cluster_pod_cidr: 10.244.0.0/16
      service_cidr: 10.96.0.0/16
      bridge_network: podplay
      bridge_name: podplay0
      nodes: "{{ podplay_nodes }}"
      node_only_ports: [22, 2379, 2380, 10250]
"""

RETURN = r"""
sysctl_changed:
  description: The kernel settings file was (or would be) rewritten and applied.
  type: bool
  returned: always
changes:
  description: What the node bundle changed (or would change) in the network, one line each.
  type: list
  elements: str
  returned: always
  sample: ["/etc/podplay/network.json written", "route 10.244.2.0/24 via 172.30.5.12 added"]
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._bundle import (  # noqa: E402
    BUNDLE_PATH,
    bundle_apply,
)
from ansible_collections.podplay.cluster.plugins.module_utils._textfile import (  # noqa: E402
    read_text,
    write_text,
)

SYSCTL_TEXT = """\
# podplay: nodes forward pod traffic, and bridged pod traffic passes iptables.
net.ipv4.ip_forward = 1
-net.bridge.bridge-nf-call-iptables = 1
"""  # "-": skipped where the key does not exist (no br_netfilter)


def ensure_sysctl(module, path):
    """The settings file as podplay wants it, applied when it changed; returns the diff entry
    (None when nothing changed)."""
    before = read_text(path)
    if before == SYSCTL_TEXT and (os.stat(path).st_mode & 0o7777) == 0o644:
        return None
    if not module.check_mode:
        write_text(module, path, SYSCTL_TEXT)
        rc, out, err = module.run_command(["systemctl", "restart", "systemd-sysctl.service"])
        if rc != 0:
            module.fail_json(msg="network_config: applying %s failed: %s"
                             % (path, (err or out).strip()))  # fmt: skip
    return {"before_header": path, "after_header": path, "before": before or "",
            "after": SYSCTL_TEXT}  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec=dict(
            network=dict(type="dict", required=True),
            config_path=dict(type="path", default="/etc/podplay/network.json"),
            sysctl_path=dict(type="path", default="/etc/sysctl.d/90-podplay.conf"),
            bundle_pending=dict(type="bool", default=False),
            bundle_path=dict(type="path", default=BUNDLE_PATH),
        ),
        supports_check_mode=True,
    )
    p = module.params
    sysctl_diff = ensure_sysctl(module, p["sysctl_path"])
    would_change = dict(sysctl_changed=sysctl_diff is not None, changes=[])
    if module.check_mode and p["bundle_pending"]:
        module.exit_json(
            changed=True,
            msg="the node bundle %s is missing or outdated on this node; a real run installs "
            "it and sets up the pod network with it" % p["bundle_path"],
            **would_change,
        )
    command = ["network", "apply", "--json", "--config", p["config_path"]]
    result = bundle_apply(module, command, "the pod network", p["network"], "network_config: ",
                          would_change)  # fmt: skip
    diff = ([sysctl_diff] if sysctl_diff else []) + list(result.pop("diff", None) or [])
    if module._diff:
        result["diff"] = diff
    result["sysctl_changed"] = sysctl_diff is not None
    result["changed"] = bool(result.get("changed") or sysctl_diff)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
