#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.pod_manifests (thin: logic in module_utils/_pod_manifests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pod_manifests
short_description: Make a node's pod manifest directory exactly the given set of pods
description:
  - Writes one C(<namespace>_<name>.json) per pod into I(path) (canonical JSON, atomic
    temp-file-and-rename writes) and removes the manifest files of pods not in I(pods), in
    one call for all of a node's pods. The podplay agent notices the change within a second
    and starts, replaces or stops pods to match.
  - Supports check mode and diff (a listing of file names with content hashes).
options:
  pods:
    description: The pod manifests bound to this node (format in the podplay node README).
    type: list
    elements: dict
    default: []
  path:
    description: The agent's manifest directory.
    type: path
    default: /etc/podplay/pods
author: podplay developers
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
from ansible_collections.podplay.cluster.plugins.module_utils._pod_manifests import (  # noqa: E402
    ManifestInputError,
    apply,
    listing,
    manifest_files,
    plan,
    read_dir,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pods=dict(type="list", elements="dict", default=[]),
            path=dict(type="path", default="/etc/podplay/pods"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        desired = manifest_files(module.params["pods"])
    except ManifestInputError as err:
        module.fail_json(msg="pod_manifests: %s" % err)
    current = read_dir(path)
    write, remove = plan(current, desired)
    changed = bool(write or remove)
    result = dict(changed=changed, written=write, removed=remove, pods=len(desired))
    if module._diff and changed:
        result["diff"] = dict(
            before_header=path,
            after_header=path,
            before=listing(current),
            after=listing(desired),
        )
    if changed and not module.check_mode:
        try:
            apply(path, desired, write, remove)
        except (IOError, OSError) as err:
            module.fail_json(msg="pod_manifests: writing %s: %s" % (path, err), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
