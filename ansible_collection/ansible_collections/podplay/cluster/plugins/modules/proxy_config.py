#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.proxy_config (thin: the node bundle writes the files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: proxy_config
short_description: Write a node's service routing configuration in one step
description:
  - Hands the cluster state to the node bundle (C(podplay-node.pyz files apply proxy)), which
    writes C(/etc/podplay/cluster.json) (the service table the podplay proxy routes and
    serves cluster DNS from), the C(podplay-proxy) systemd unit, and the keepalived
    configuration that holds the cluster's LoadBalancer IPs, each atomically and only when
    its content differs.
  - The cluster state is checked by the node contract (the parser the running proxy uses)
    before anything is written, so a bad service table fails here with the field named,
    never in the running proxy.
  - Options left unset take the node contract's defaults (see the node README).
  - Supports check mode and diff. In check mode on a node whose bundle is not installed yet,
    reports a change with a message instead of failing.
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
    description:
      - The cluster pod CIDR (traffic from outside it to a ClusterIP is masqueraded; unset,
        C(10.244.0.0/16)).
    type: str
  service_cidr:
    description:
      - The service CIDR (ClusterIPs; its reverse zone is served by cluster DNS; unset,
        C(10.96.0.0/16)).
    type: str
  dns_ip:
    description:
      - The cluster DNS virtual IP, steered to the node-local DNS server (unset, C(10.96.0.10)).
    type: str
  cluster_domain:
    description: The cluster DNS domain (unset, C(cluster.local)).
    type: str
  node_port_range:
    description: The NodePort range C([first, last]) (unset, C([30000, 32767])).
    type: list
    elements: int
  lb:
    description:
      - LoadBalancer options. C(advert_int) (seconds, default 0.5) is the VRRP advert interval;
        C(interface) the interface that holds the IPs (default, the one with I(address)).
    type: dict
    default: {}
extends_documentation_fragment:
  - podplay.cluster.node_bundle
author: podplay developers (!UNKNOWN)
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

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._bundle import (  # noqa: E402
    BUNDLE_PATH,
    files_apply,
)

# Options that are cluster.json fields of the same name.
STATE_OPTIONS = ("cluster", "nodes", "services", "pod_cidr", "service_cidr", "dns_ip",
                 "cluster_domain", "node_port_range")  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            node=dict(type="str", required=True),
            address=dict(type="str", required=True),
            nodes=dict(type="list", elements="dict", required=True),
            services=dict(type="list", elements="dict", default=[]),
            pod_cidr=dict(type="str"),
            service_cidr=dict(type="str"),
            dns_ip=dict(type="str"),
            cluster_domain=dict(type="str"),
            node_port_range=dict(type="list", elements="int"),
            lb=dict(type="dict", default={}),
            bundle_path=dict(type="path", default=BUNDLE_PATH),
        ),
        supports_check_mode=True,
    )
    p = module.params
    state = dict((k, p[k]) for k in STATE_OPTIONS if p[k] is not None)
    desired = dict(state=state, node=p["node"], address=p["address"], lb=p["lb"])
    would_change = dict(cluster_changed=True, unit_changed=True, keepalived_changed=False,
                        keepalived_wanted=False, keepalived_installed=False, lb_ips=[])  # fmt: skip
    module.exit_json(**files_apply(module, "proxy", desired, "", would_change))


if __name__ == "__main__":
    main()
