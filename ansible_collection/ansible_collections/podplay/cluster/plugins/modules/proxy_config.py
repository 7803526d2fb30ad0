#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.proxy_config (thin: logic in module_utils/_proxy_config)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: proxy_config
short_description: Write a node's service routing configuration in one step
description:
  - Writes C(/etc/podplay/cluster.json) (the service table the podplay proxy routes and
    serves cluster DNS from), the C(podplay-proxy) systemd unit, and the keepalived
    configuration that holds the cluster's LoadBalancer IPs, each atomically and only when
    its content differs.
  - The cluster state is checked by the node bundle's own parser before anything is written,
    so a bad service table fails here with the field named, never in the running proxy.
  - Supports check mode and diff.
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  node:
    description: This node's name (inventory host name).
    type: str
    required: true
  address:
    description: This node's cluster address.
    type: str
    required: true
  nodes:
    description: Every node, as C({name, address, pod_cidr[, api_port]}).
    type: list
    elements: dict
    required: true
  services:
    description: The service table (cluster.json C(services), see the node README).
    type: list
    elements: dict
    default: []
  pod_cidr:
    description: The cluster pod CIDR (traffic from outside it to a ClusterIP is masqueraded).
    type: str
    default: 10.244.0.0/16
  service_cidr:
    description: The service CIDR (ClusterIPs; its reverse zone is served by cluster DNS).
    type: str
    default: 10.96.0.0/16
  dns_ip:
    description: The cluster DNS virtual IP, steered to the node-local DNS server.
    type: str
    default: 10.96.0.10
  cluster_domain:
    description: The cluster DNS domain.
    type: str
    default: cluster.local
  node_port_range:
    description: The NodePort range C([first, last]).
    type: list
    elements: int
    default: [30000, 32767]
  lb:
    description:
      - LoadBalancer options. C(advert_int) (seconds, default 0.5) is the VRRP advert interval;
        C(interface) the interface that holds the IPs (default, the one with I(address)).
    type: dict
    default: {}
  bundle_path:
    description: The node bundle on the node (runs the proxy; validates the service table).
    type: path
    default: /opt/podplay/podplay-node.pyz
author: podplay developers
"""

EXAMPLES = r"""
- name: Cluster state, proxy unit and LoadBalancer VRRP config
  podplay.cluster.proxy_config:
    cluster: "{{ podplay_cluster_name }}"
    node: "{{ inventory_hostname }}"
    address: "{{ podplay_node_address }}"
    nodes: "{{ podplay_nodes }}"
    services: "{{ podplay_services }}"
  register: podplay_proxy
"""

RETURN = r"""
cluster_changed:
  description: cluster.json was (or would be) rewritten.
  type: bool
  returned: always
unit_changed:
  description: The podplay-proxy unit was (or would be) rewritten; restart the proxy.
  type: bool
  returned: always
keepalived_changed:
  description: keepalived.conf was (or would be) rewritten or removed.
  type: bool
  returned: always
keepalived_wanted:
  description: The cluster has LoadBalancer IPs, so keepalived must run.
  type: bool
  returned: always
keepalived_installed:
  description: The keepalived binary is present on the node.
  type: bool
  returned: always
lb_ips:
  description: The LoadBalancer IPs this node takes part in holding.
  type: list
  elements: str
  returned: always
"""

import os  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._files import (  # noqa: E402
    read_text,
    sha256_file,
    write_atomic,
)
from ansible_collections.podplay.cluster.plugins.module_utils._proxy_config import (  # noqa: E402
    CLUSTER_JSON,
    DEFAULT_ADVERT_INT,
    KEEPALIVED_CONF,
    UNIT_PATH,
    cluster_json_text,
    cluster_state,
    interface_for,
    keepalived_text,
    lb_ips,
    unit_text,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            node=dict(type="str", required=True),
            address=dict(type="str", required=True),
            nodes=dict(type="list", elements="dict", required=True),
            services=dict(type="list", elements="dict", default=[]),
            pod_cidr=dict(type="str", default="10.244.0.0/16"),
            service_cidr=dict(type="str", default="10.96.0.0/16"),
            dns_ip=dict(type="str", default="10.96.0.10"),
            cluster_domain=dict(type="str", default="cluster.local"),
            node_port_range=dict(type="list", elements="int", default=[30000, 32767]),
            lb=dict(type="dict", default={}),
            bundle_path=dict(type="path", default="/opt/podplay/podplay-node.pyz"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    state = cluster_state(
        p["cluster"], p["services"], p["nodes"], p["pod_cidr"], p["service_cidr"], p["dns_ip"],
        p["cluster_domain"], p["node_port_range"],
    )  # fmt: skip
    desired = {CLUSTER_JSON: (cluster_json_text(state), 0o644)}

    # The node bundle's own parser is the judge of the service table.
    if os.path.exists(p["bundle_path"]):
        fd, tmp = tempfile.mkstemp(prefix="podplay-cluster-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(desired[CLUSTER_JSON][0])
            rc, out, err = module.run_command(
                ["python3", p["bundle_path"], "proxy", "--validate", tmp]
            )
        finally:
            os.unlink(tmp)
        if rc != 0:
            module.fail_json(msg="invalid service table: %s" % err.strip().split(": ", 1)[-1])

    desired[UNIT_PATH] = (unit_text(p["bundle_path"], sha256_file(p["bundle_path"])), 0o644)

    ips = lb_ips(p["services"])
    if ips:
        interface = (p["lb"] or {}).get("interface")
        if not interface:
            rc, out, err = module.run_command(["ip", "-o", "-4", "addr", "show"])
            interface = interface_for(p["address"], out if rc == 0 else "")
        if not interface:
            module.fail_json(msg="no interface holds node address %s" % p["address"])
        try:
            desired[KEEPALIVED_CONF] = (
                keepalived_text(
                    p["cluster"], p["node"], p["address"], interface, p["nodes"], ips,
                    (p["lb"] or {}).get("advert_int", DEFAULT_ADVERT_INT),
                ),
                0o644,
            )  # fmt: skip
        except ValueError as err:
            module.fail_json(msg=str(err))

    changed_paths = []
    diffs = []
    for path, (text, mode) in desired.items():
        before = read_text(path)
        if before != text:
            changed_paths.append(path)
            diffs.append({"before_header": path, "after_header": path,
                          "before": before or "", "after": text})  # fmt: skip
            if not module.check_mode:
                write_atomic(path, text, mode)
    remove_keepalived = not ips and read_text(KEEPALIVED_CONF) is not None
    if remove_keepalived:
        changed_paths.append(KEEPALIVED_CONF)
        diffs.append({"before_header": KEEPALIVED_CONF, "after_header": "(absent)",
                      "before": read_text(KEEPALIVED_CONF), "after": ""})  # fmt: skip
        if not module.check_mode:
            os.unlink(KEEPALIVED_CONF)

    module.exit_json(
        changed=bool(changed_paths),
        cluster_changed=CLUSTER_JSON in changed_paths,
        unit_changed=UNIT_PATH in changed_paths,
        keepalived_changed=KEEPALIVED_CONF in changed_paths,
        keepalived_wanted=bool(ips),
        keepalived_installed=module.get_bin_path("keepalived", opt_dirs=["/usr/sbin", "/sbin"])
        is not None,
        lb_ips=ips,
        diff=diffs,
    )


if __name__ == "__main__":
    main()
