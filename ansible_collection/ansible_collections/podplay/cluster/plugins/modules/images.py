#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Documentation of podplay.cluster.images; the work is done by the action plugin of that
name (plugins/action/images.py), on the controller, which holds the archives."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: images
short_description: Side-load images onto a node that lacks them (no registry needed)
description:
  - For each image, compares the image id the node has under the reference with the
    wanted id (as C(kind load) does). A node that has it needs nothing; one that has the id
    under another name gets a C(docker tag); otherwise the archive (from C(docker save) on
    the controller) is copied to the node and C(docker load)ed.
  - One task for all of a node's images. Supports check mode and diff.
options:
  images:
    description:
      - Images as C({ref, id, archive}); C(archive) is a path on the controller. Empty
        entries are skipped, so an unset pause image can be passed as is.
    type: list
    elements: raw
    default: []
  docker:
    description: The docker client command on the node.
    type: str
    default: docker
attributes:
  platform:
    description: POSIX hosts (the node bundle and python3 run there).
    support: full
    platforms: posix
  action:
    description: Runs as the action plugin of that name, on the controller (it holds the archives).
    support: full
extends_documentation_fragment:
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Images the pods need, side-loaded where missing
  podplay.cluster.images:
    images: "{{ [podplay_pause_image] + podplay_images }}"
"""

RETURN = r"""
loaded:
  description: References whose archives were copied and loaded.
  type: list
  elements: str
  returned: always
tagged:
  description: References added to an image id the node already had.
  type: list
  elements: str
  returned: always
present:
  description: References the node already had with the wanted id.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=dict(
            images=dict(type="list", elements="raw", default=[]),
            docker=dict(type="str", default="docker"),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg="podplay.cluster.images runs as an action plugin on the controller")


if __name__ == "__main__":
    main()
