#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.proxy_config (thin: the node bundle writes the files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: proxy_config
short_description: A node's service routing configuration and services in one step
description:
  - Hands the cluster state to the node bundle (C(podplay-node.pyz files apply proxy)), which
    writes C(/etc/podplay/cluster.json) (the service table the podplay proxy routes and
    serves cluster DNS from), the C(podplay-proxy) systemd unit, and the keepalived
    configuration that holds the cluster's LoadBalancer IPs, each atomically and only when
    its content differs.
  - The cluster state is checked by the node contract (the parser the running proxy uses)
    before anything is written, so a bad service table fails here with the field named,
    never in the running proxy.
  - Then (I(service), the default) runs the services from what changed, with systemctl. The
    C(podplay-proxy) service enabled and running (systemd reloaded and the proxy restarted
    when its unit changed, i.e. a new node bundle; it picks up a new cluster.json by
    itself); where the cluster has LoadBalancer IPs, keepalived installed with apt-get when
    the node lacks it, enabled and running, reloaded when its configuration changed; where
    it has none any more, keepalived stopped and disabled.
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
  service:
    description:
      - Bring the C(podplay-proxy) and keepalived services to the state the files call for
        (installing keepalived where it is wanted and missing). C(false) writes the files
        only.
    type: bool
    default: true
extends_documentation_fragment:
  - podplay.cluster.node_bundle
  - podplay.cluster.check_diff
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
  description: The keepalived binary was present on the node before this run.
  type: bool
  returned: always
keepalived_install:
  description: keepalived was (or would be) installed with apt-get.
  type: bool
  returned: always
services:
  description: The systemctl commands run (or, in check mode, that would run), in order.
  type: list
  elements: str
  returned: always
  sample: ["systemctl reload keepalived.service"]
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
from ansible_collections.podplay.cluster.plugins.module_utils._systemd import (  # noqa: E402
    converge_units,
    keepalived_missing,
    proxy_steps,
    report,
)

# Options that are cluster.json fields of the same name.
STATE_OPTIONS = ("cluster", "nodes", "services", "pod_cidr", "service_cidr", "dns_ip",
                 "cluster_domain", "node_port_range")  # fmt: skip
APT_GET = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]
APT_INSTALL = [*APT_GET, "install", "-y", "-q", "--no-install-recommends", "keepalived"]


def install_keepalived(module):
    """apt-get itself, as the runtime role installs the engine (no python3-apt needed);
    fresh package lists only when the install fails without them."""
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    rc, _out, err = module.run_command(APT_INSTALL, environ_update=env)
    if rc != 0:
        module.run_command([*APT_GET, "update", "-qq"], environ_update=env)
        rc, _out, err = module.run_command(APT_INSTALL, environ_update=env)
    if rc != 0:
        module.fail_json(msg="proxy_config: apt-get install keepalived failed: %s"
                         % err.strip()[-800:])  # fmt: skip


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
            service=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    state = dict((k, p[k]) for k in STATE_OPTIONS if p[k] is not None)
    desired = dict(state=state, node=p["node"], address=p["address"], lb=p["lb"])
    would_change = dict(cluster_changed=True, unit_changed=True, keepalived_changed=False,
                        keepalived_wanted=False, keepalived_installed=False, lb_ips=[],
                        keepalived_install=False, services=[])  # fmt: skip
    result = files_apply(module, "proxy", desired, "", would_change)
    result["keepalived_install"] = bool(p["service"] and keepalived_missing(result))
    if result["keepalived_install"] and not module.check_mode:
        install_keepalived(module)
    result["services"] = []
    if p["service"]:
        daemon_reload, steps = proxy_steps(result)
        done = converge_units(module, daemon_reload, steps, "proxy_config: ")
        result["services"] = report(done)
    changed = result.get("changed") or result["keepalived_install"] or result["services"]
    result["changed"] = bool(changed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
