#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.store_table (thin: the node bundle writes the store)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: store_table
short_description: Write the plan's binding table (which pod runs on which node) to the store
description:
  - Hands the pods bound to every node, the deployments' node selectors and the nodes as the
    plan describes them to the node bundle (C(podplay-node.pyz store apply-table)), which
    checks them with the store's records and makes the cluster's store (etcd) say the same,
    over the node's client certificate (C(/etc/podplay/store.json)).
  - Puts each node spec and each binding that differs, deletes those of pods and nodes no
    longer planned, then puts C(table) (its generation + 1) last. A binding the
    control-plane controller made (the pod was moved off a NotReady node) for the same pod
    template is kept, so an older compiled project never brings a moved pod back.
  - Run it once per play (C(run_once)), on a control-plane member; nothing differs, nothing
    is written. Supports check mode and diff (one line per binding and node, before and
    after). In check mode on a node whose bundle is not installed yet, reports a change
    with a message instead of failing.
options:
  cluster:
    description: The cluster's name (its keys live under C(/podplay/<cluster>/)).
    type: str
    required: true
  node_grace:
    description: Seconds a node may be NotReady before the controller moves its pods.
    type: float
    default: 3.0
  nodes:
    description: >-
      Every node as placement sees it, C([{name, address, pod_cidr, labels, cpu_millis,
      memory_bytes, max_pods, last_pod_ip, control_plane}]) (format in the podplay node
      README, "node specs").
    type: list
    elements: dict
    default: []
  pods:
    description: "The pod manifests bound to each node, C({node: [manifest, ...]})."
    type: dict
    default: {}
  node_selectors:
    description: >-
      Each deployment's node selector, C({"<namespace>/<deployment>": {label: value}}).
    type: dict
    default: {}
extends_documentation_fragment:
  - podplay.cluster.node_bundle
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The binding table in the store
  podplay.cluster.store_table:
    cluster: "{{ podplay_cluster_name }}"
    node_grace: "{{ podplay_node_grace }}"
    nodes: "{{ podplay_node_specs }}"
    node_selectors: "{{ podplay_node_selectors }}"
    pods: >-
      {{ dict(groups['nodes'] | zip(groups['nodes'] | map('extract', hostvars)
      | map(attribute='podplay_pods', default=[]))) }}
  run_once: true
"""

RETURN = r"""
written:
  description: Store keys written (or that would be, in check mode).
  type: list
  elements: str
  returned: always
deleted:
  description: Store keys deleted (or that would be).
  type: list
  elements: str
  returned: always
kept:
  description: Pods (C(namespace/name)) whose binding the controller made, kept.
  type: list
  elements: str
  returned: always
generation:
  description: The table's generation afterwards.
  type: int
  returned: always
bindings:
  description: How many pods the plan binds.
  type: int
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._bundle import (  # noqa: E402
    BUNDLE_PATH,
    bundle_apply,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            node_grace=dict(type="float", default=3.0),
            nodes=dict(type="list", elements="dict", default=[]),
            pods=dict(type="dict", default={}),
            node_selectors=dict(type="dict", default={}),
            bundle_path=dict(type="path", default=BUNDLE_PATH),
        ),
        supports_check_mode=True,
    )
    p = module.params
    desired = {k: p[k] for k in ("cluster", "node_grace", "nodes", "pods", "node_selectors")}
    count = sum(len(pods or []) for pods in p["pods"].values())
    would_change = dict(written=[], deleted=[], kept=[], generation=0, bindings=count)
    result = bundle_apply(
        module,
        ["store", "apply-table"],
        "the binding table",
        desired,
        "store_table: ",
        would_change,
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
