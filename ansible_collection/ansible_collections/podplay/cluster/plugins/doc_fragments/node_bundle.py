# -*- coding: utf-8 -*-
# Copyright podplay developers. Apache-2.0.
"""Documentation shared by the modules that hand their work to the node bundle.

Each of them runs `python3 <bundle_path> ...` on the node, so each takes `bundle_path` and
has the same platform support (their check mode and diff: podplay.cluster.check_diff). A
module that documents one of these keys itself (an attribute worded for what it does)
overrides the fragment's entry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  bundle_path:
    description:
      - The node bundle on the node. The module hands its work to it (the bundle checks the
        desired state with the node contract and changes only what differs); the systemd
        units written by M(podplay.cluster.agent_config), M(podplay.cluster.proxy_config) and
        M(podplay.cluster.store_config) run the agent, the proxy and the controller from it.
    type: path
    default: /opt/podplay/podplay-node.pyz
attributes:
  platform:
    description: POSIX hosts (the node bundle and python3 run there).
    support: full
    platforms: posix
"""
