# -*- coding: utf-8 -*-
# Copyright podplay developers. Apache-2.0.
"""The nodes of a podplay program's cluster as an Ansible inventory (no podplay CLI involved)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: podplay
short_description: the nodes of a podplay program's cluster
description:
  - Evaluates a podplay program (O(program)) and lists the nodes of its cluster as
    C(podplay preview) sees them, with the connection variables podplay itself uses, so
    C(ansible), C(ansible-playbook) and C(ansible-inventory) reach the cluster with no podplay
    command in between.
  - A local cluster (C(nodes=N)) must exist (C(podplay up) or C(podplay cluster create));
    its nodes and connection details come from the inventory C(podplay cluster create) wrote.
    A cluster of real hosts comes from the program's C(pp.Node) list or its C(inventory=).
  - Every node is in group C(nodes); the store's members are also in C(control_plane) (a
    child of C(nodes)); with O(label_groups) each node label C(key=value) makes a group
    C(label_<key>_<value>) (characters not valid in a group name become C(_)).
  - Host variables are the connection variables (C(ansible_host), C(ansible_user),
    C(ansible_port), C(ansible_ssh_private_key_file), C(ansible_ssh_common_args), ...), and
    C(podplay_cluster_name), C(podplay_node_address), C(podplay_node_pod_cidr),
    C(podplay_node_labels) (a dict) and C(podplay_control_plane) (a bool).
  - Uses a YAML configuration file whose name ends with V(podplay.yml) or V(podplay.yaml).
notes:
  - The configuration file must be a YAML file whose name ends with V(podplay.yml) or
    V(podplay.yaml), for example C(app.podplay.yml). Other file names are not accepted.
  - The program runs inside the Ansible process, as C(podplay preview) would run it.
requirements:
  - the podplay Python package, installed in the Python that runs Ansible (C(pip install podplay))
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: The name of this plugin; always V(podplay.cluster.podplay).
    type: str
    required: true
    choices: [podplay.cluster.podplay]
  program:
    description:
      - The podplay program (a Python file, or a Kubernetes manifest podplay reads), relative
        to the directory of this configuration file.
    type: str
    required: true
  stack:
    description:
      - The program's stack whose state to plan against (the stack C(podplay up --stack)
        names). Default the program's cluster name, as for C(podplay up).
    type: str
  label_groups:
    description: Make a group C(label_<key>_<value>) for every node label.
    type: bool
    default: true
"""

EXAMPLES = r"""
---
# app.podplay.yml, beside app.py: every node of the program's cluster
plugin: podplay.cluster.podplay
program: app.py

---
# Another stack of the same program; groups by node label and a composed variable
plugin: podplay.cluster.podplay
program: ../apps/shop/app.py
stack: shop-staging
label_groups: false
keyed_groups:
  - key: podplay_node_labels
    prefix: zone
groups:
  store: podplay_control_plane
compose:
  zone: podplay_node_labels.zone | default('none')
"""

import os  # noqa: E402
import sys  # noqa: E402

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable  # noqa: E402

try:
    from podplay.control.prepare import default_stack, plan_changes, read_recorded, stack_state
    from podplay.control.reporter import Reporter
    from podplay.control.target import find_target
    from podplay.dsl import evaluate, local_images
    from podplay.errors import PodplayError
    from podplay.render.inventory import inventory_data
except ImportError as err:
    PODPLAY_IMPORT_ERROR = str(err)
    PodplayError = Exception  # never raised: parse() stops before podplay is used
else:
    PODPLAY_IMPORT_ERROR = None

LABEL_PREFIX = "label"


def program_plan(program, stack_name=None, warn=None):
    """The plan `podplay preview PROGRAM [--stack NAME]` shows, read only: the program
    evaluated, its cluster found, planned against the stack's state. Its nodes carry what
    podplay knows of each (address, labels, store membership, connection variables)."""
    stack = evaluate(program)
    state = stack_state(program, stack_name or default_stack(stack))
    target = find_target(stack)
    if not target.exists:
        raise PodplayError(
            "local cluster %s of %s does not exist: `podplay up %s` (or `podplay cluster "
            "create %s`) makes it" % (target.name, program, program, target.name)
        )

    class _Warnings(Reporter):
        def warn(self, message):
            if warn is not None:
                warn(message)

    recorded = read_recorded(state, _Warnings())
    return plan_changes(stack, recorded, target, local_images(stack))[1]


def node_vars(plan, node):
    """Variables a node gets besides its connection variables (which the group tree has)."""
    return {
        "podplay_cluster_name": plan.cluster.name,
        "podplay_node_address": node.address,
        "podplay_node_pod_cidr": node.pod_cidr,
        "podplay_node_labels": dict(node.labels),
        "podplay_control_plane": node.control_plane,
    }


def label_group_names(labels):
    """`label_<key>_<value>` per label, as keyed_groups names them (sanitised by the caller)."""
    return ["%s_%s_%s" % (LABEL_PREFIX, key, value) for key, value in sorted(labels.items())]


class InventoryModule(BaseInventoryPlugin, Constructable):
    """Nodes, groups and connection variables of a podplay program's cluster."""

    NAME = "podplay.cluster.podplay"
    # The values come from the user's own program and the inventory podplay wrote (which
    # Ansible reads as a trusted YAML inventory when it runs podplay's plays): the same trust.
    trusted_by_default = True

    def verify_file(self, path):
        """Only configuration files named *podplay.yml / *podplay.yaml."""
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            ("podplay.yml", "podplay.yaml")
        )

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        if PODPLAY_IMPORT_ERROR is not None:
            raise AnsibleParserError(
                "the podplay.cluster.podplay inventory plugin needs the podplay Python package "
                "in the Python that runs Ansible (%s): pip install podplay (%s)"
                % (sys.executable, PODPLAY_IMPORT_ERROR)
            )
        base = os.path.dirname(os.path.abspath(path))
        program = os.path.join(base, os.path.expanduser(self.get_option("program")))
        try:
            plan = program_plan(program, self.get_option("stack"), self.display.warning)
        except PodplayError as err:
            raise AnsibleParserError("podplay: %s" % err) from None
        self.populate(
            plan,
            label_groups=self.get_option("label_groups"),
            compose=self.get_option("compose"),
            groups=self.get_option("groups"),
            keyed_groups=self.get_option("keyed_groups"),
            strict=self.get_option("strict"),
        )

    def populate(
        self, plan, label_groups=True, compose=None, groups=None, keyed_groups=None, strict=False
    ):
        """Hosts and groups of `plan`: podplay's own inventory tree (what `podplay compile`
        writes), the podplay_* variables, label groups, then the constructed options."""
        self._add_tree(inventory_data(plan)["all"].get("children") or {}, None)
        for node in plan.nodes:
            for key, value in node_vars(plan, node).items():
                self.inventory.set_variable(node.name, key, value)
            if label_groups:
                for name in label_group_names(node.labels):
                    group = self.inventory.add_group(self._sanitize_group_name(name))
                    self.inventory.add_host(node.name, group=group)
            hostvars = self.inventory.get_host(node.name).get_vars()
            self._set_composite_vars(compose, hostvars, node.name, strict=strict)
            self._add_host_to_composed_groups(groups, hostvars, node.name, strict=strict)
            self._add_host_to_keyed_groups(keyed_groups, hostvars, node.name, strict=strict)

    def _add_tree(self, children, parent):
        """Groups, hosts and host variables of an inventory tree (YAML inventory shape)."""
        for name, group in children.items():
            self.inventory.add_group(name)
            if parent is not None:
                self.inventory.add_child(parent, name)
            for host, variables in ((group or {}).get("hosts") or {}).items():
                self.inventory.add_host(host, group=name)
                for key, value in (variables or {}).items():
                    self.inventory.set_variable(host, key, value)
            self._add_tree((group or {}).get("children") or {}, name)
