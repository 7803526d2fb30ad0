#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.rollout_step (thin: the node bundle writes and waits)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rollout_step
short_description: One node's part of one step of a rolling update, waited for on the node
description:
  - Hands the step to the node bundle (C(podplay-node.pyz rollout step)), in one call per
    node - the pods bound to this node (as M(podplay.cluster.pod_manifests) writes them), the
    cluster state (as M(podplay.cluster.proxy_config) writes C(cluster.json)), then a wait
    on this node until its agent and proxy show the step done here (I(wait)).
  - The wait, in order - the endpoints in C(unrouted) leave this node's routing (a warning
    after C(drain_timeout) seconds; the call returns no sooner than C(settle) seconds after
    that, for requests in flight, a settle that runs while the new pods start); the pods in
    C(stopped) are no longer reported by this node's agent; the pods in C(ready)
    planned on this node run ready with their planned IP; the endpoints in C(routed) are in
    this node's routing (C(/run/podplay/proxy.json)). Routing is looked at only on the nodes
    in C(routing_nodes). After C(timeout) seconds the task fails naming what is missing.
  - Run it on every node in a play with C(any_errors_fatal), so that the next step starts
    only when every node is done (C(podplay up) renders a rollout as one such play of
    C(rollout.yml), a block of tasks per stage).
  - Supports check mode (writes nothing, does not wait) and diff (as the two modules above).
options:
  node:
    description: This node's name (the plan's; the pods in I(wait.ready) name their node).
    type: str
    required: true
  table:
    description:
      - The binding table after the step, as M(podplay.cluster.store_table) takes it (keys
        C(cluster), C(node_grace), C(nodes), C(pods), C(node_selectors)), written into the
        store first. Give every node of a step the same table - a compare-and-swap
        desired-state write, so the first writer changes the store and the others find it
        done (C(changed) only where it wrote), and a node whose write fails fails at once,
        before it waits. Unset, the store is left as it is.
    type: dict
  pods:
    description:
      - The pods bound to this node after the step, as C(files apply pods) takes them (keys
        C(pods), a list of manifests, and optionally C(path)). Unset, the pod files are left
        as they are.
    type: dict
  proxy:
    description:
      - The cluster state after the step, as C(files apply proxy) takes it (keys C(state),
        the content of cluster.json, C(node), C(address) and optionally C(lb)). Unset, left
        as it is.
    type: dict
  wait:
    description: What to wait for (see the description; format in the node README).
    type: dict
  then:
    description:
      - Once the wait is over, C(cluster.json) as I(then.proxy) says (as I(proxy)) and a
        second wait, I(then.wait) (the next step's drain, in the same call). Not in check
        mode.
    type: dict
attributes:
  check_mode:
    description: Reports what a real run would write, writes nothing and does not wait.
    support: full
  diff_mode:
    description: Returns a diff of the files the step writes (or would write, in check mode).
    support: full
extends_documentation_fragment:
  - podplay.cluster.node_bundle
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Pods, routing and the wait of this step
  podplay.cluster.rollout_step:
    node: "{{ inventory_hostname }}"
    pods: {pods: "{{ podplay_pods }}"}
    wait:
      ready: [{namespace: default, name: web-x7k2q, node: node1, ip: 10.244.1.7}]
      routed: ["default/web-x7k2q@10.244.1.7"]
      routing_nodes: [node1, node2, node3]
"""

RETURN = r"""
table:
  description: What writing the binding table did (as M(podplay.cluster.store_table) returns it).
  type: dict
  returned: when table is set
pods:
  description: What writing the pod files did (C(written), C(removed), C(pods)).
  type: dict
  returned: when pods is set
proxy:
  description: What writing cluster.json did (as M(podplay.cluster.proxy_config) returns it).
  type: dict
  returned: when proxy is set
waited:
  description: Seconds the wait took on this node.
  type: float
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
            node=dict(type="str", required=True),
            table=dict(type="dict"),
            pods=dict(type="dict"),
            proxy=dict(type="dict"),
            wait=dict(type="dict"),
            then=dict(type="dict"),
            bundle_path=dict(type="path", default=BUNDLE_PATH),
        ),
        supports_check_mode=True,
    )
    p = module.params
    keys = ("node", "table", "pods", "proxy", "wait", "then")
    desired = dict((k, p[k]) for k in keys if p[k] is not None)
    result = bundle_apply(
        module, ["rollout", "step"], "the rollout step", desired, "rollout_step: ",
        dict(waited=0.0),
    )  # fmt: skip
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
