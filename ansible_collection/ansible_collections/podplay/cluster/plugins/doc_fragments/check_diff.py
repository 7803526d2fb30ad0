# -*- coding: utf-8 -*-
# Copyright podplay developers. Apache-2.0.
"""Documentation every podplay module shares: full check mode and diff (each module says
what its diff holds in its own description, and documents its platform itself or through
podplay.cluster.node_bundle)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Reports what a real run would change, and changes nothing.
    support: full
  diff_mode:
    description: Returns a diff of what changed (or would change, in check mode).
    support: full
"""
