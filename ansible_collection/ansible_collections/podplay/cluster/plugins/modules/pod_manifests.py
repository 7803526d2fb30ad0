#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.pod_manifests (thin: the node bundle writes the files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pod_manifests
short_description: Make a node's pod manifest directory exactly the given set of pods
description:
  - Hands the pods to the node bundle (C(podplay-node.pyz files apply pods)), which checks
    each with the node contract (the parser the agent uses), writes one
    C(<namespace>_<name>.json) per pod into I(path) (mode 0600, as they hold env values;
    one found with another mode is written again) (canonical JSON, atomic
    temp-file-and-rename writes) and removes the manifest files of pods not in I(pods), in
    one call for all of a node's pods. The podplay agent notices the change within a second
    and starts, replaces or stops pods to match.
  - Supports check mode and diff (a listing of file names with content hashes). In check
    mode on a node whose bundle is not installed yet, reports a change with a message
    instead of failing.
options:
  pods:
    description: The pod manifests bound to this node (format in the podplay node README).
    type: list
    elements: dict
    default: []
  path:
    description: The agent's manifest directory (unset, C(/etc/podplay/pods)).
    type: path
extends_documentation_fragment:
  - podplay.cluster.node_bundle
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Pods bound to this node
  podplay.cluster.pod_manifests:
    pods: "{{ podplay_pods }}"
"""

RETURN = r"""
written:
  description: Manifest files written (or that would be, in check mode).
  type: list
  elements: str
  returned: always
removed:
  description: Manifest files removed (or that would be).
  type: list
  elements: str
  returned: always
pods:
  description: How many pods the directory holds afterwards.
  type: int
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._bundle import (  # noqa: E402
    BUNDLE_PATH,
    files_apply,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pods=dict(type="list", elements="dict", default=[]),
            path=dict(type="path"),
            bundle_path=dict(type="path", default=BUNDLE_PATH),
        ),
        supports_check_mode=True,
    )
    pods = module.params["pods"]
    desired = dict(pods=pods, path=module.params["path"])
    would_change = dict(written=[], removed=[], pods=len(pods))
    module.exit_json(**files_apply(module, "pods", desired, "pod_manifests: ", would_change))


if __name__ == "__main__":
    main()
