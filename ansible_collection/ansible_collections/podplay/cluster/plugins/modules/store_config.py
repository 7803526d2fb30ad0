#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.store_config (thin: the node bundle writes the files)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: store_config
short_description: Everything a node needs of the cluster's store (etcd), services too, in one step
description:
  - On every node, writes the cluster CA, this node's certificate and key (mode 0600) under
    I(pki_dir) and C(/etc/podplay/store.json) (endpoints and certificate paths for the
    node's store clients).
  - On the store's members (I(node) is one of I(members)) also installs etcd from the
    distribution's packages when C(/usr/bin/etcd) is absent (without starting it), writes
    etcd's settings (C(/etc/podplay/etcd.env)), a systemd unit C(etcd.service) and the
    controller's unit C(podplay-controller.service), and makes the data directory. The key
    is then owned by the etcd user.
  - Then, on members (I(service), the default), runs etcd and the controller with systemctl.
    systemd reloaded when a unit changed, each enabled and restarted when what it reads at
    start changed (else started if it is not running), without blocking (a new member is
    ready only once a majority has started, and the members start in parallel, one per
    host); when either was (re)started, waits up to I(wait) seconds until the store has a
    quorum with this member healthy in it (C(podplay-node.pyz store health --quorum)).
  - An existing member keeps its data; a member whose store was made with other members is
    refused (podplay does not change the members of an existing store).
  - The files are written by the node bundle (C(podplay-node.pyz files apply store)), which
    checks the desired state first; each file atomically and only when its content, mode or
    owner differs. Supports check mode and diff (the key is never shown). In check mode on a
    node whose bundle is not installed yet, reports a change with a message instead of
    failing.
options:
  node:
    description: This node's name (inventory host name); its certificate's common name.
    type: str
    required: true
  address:
    description: This node's cluster address; a member listens there.
    type: str
    required: true
  cluster:
    description: Cluster name (the store's initial cluster token is derived from it).
    type: str
    required: true
  members:
    description: The store's members, C([{name, address}]), 1, 3 or 5 of them.
    type: list
    elements: dict
    required: true
  ca:
    description: The cluster CA certificate (PEM).
    type: str
    required: true
  cert:
    description: This node's certificate (PEM), signed by the CA.
    type: str
    required: true
  key:
    description: This node's private key (PEM).
    type: str
    required: true
  client_port:
    description: etcd's client port.
    type: int
    default: 2379
  peer_port:
    description: etcd's peer port.
    type: int
    default: 2380
  heartbeat_ms:
    description: etcd's heartbeat interval in milliseconds.
    type: int
    default: 100
  election_ms:
    description: etcd's election timeout in milliseconds (a lease lasts at least 1.5 x this).
    type: int
    default: 1000
  data_dir:
    description: etcd's data directory on members.
    type: path
    default: /var/lib/etcd/podplay
  pki_dir:
    description: Where the CA, certificate and key are written.
    type: path
    default: /etc/podplay/pki
  config_path:
    description: Where store.json is written.
    type: path
    default: /etc/podplay/store.json
  env_path:
    description: Where etcd's settings are written (members).
    type: path
    default: /etc/podplay/etcd.env
  unit_path:
    description: Where the etcd unit is written (members).
    type: path
    default: /etc/systemd/system/etcd.service
  install:
    description: Install I(packages) with apt-get on a member that has no C(/usr/bin/etcd).
    type: bool
    default: true
  packages:
    description: The distribution packages that provide etcd.
    type: list
    elements: str
    default: [etcd-server, etcd-client]
  user:
    description: The user etcd runs as (the Debian package makes it).
    type: str
    default: etcd
  controller_unit_path:
    description: Where the controller's unit is written (members).
    type: path
    default: /etc/systemd/system/podplay-controller.service
  service:
    description:
      - On members, bring etcd and the controller to the state the files call for and wait
        for the quorum after a (re)start. C(false) writes the files (and installs etcd) only.
    type: bool
    default: true
  wait:
    description: Seconds to wait, after etcd or the controller (re)started, for the quorum.
    type: int
    default: 120
extends_documentation_fragment:
  - podplay.cluster.node_bundle
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Store certificates, store.json and (on members) etcd's configuration
  podplay.cluster.store_config:
    node: "{{ inventory_hostname }}"
    address: "{{ podplay_node_address }}"
    cluster: "{{ podplay_cluster_name }}"
    members: [{name: node1, address: 172.30.5.11}]
    ca: "{{ lookup('ansible.builtin.file', podplay_pki_dir ~ '/ca.crt') }}"
    cert: "{{ lookup('ansible.builtin.file', podplay_pki_dir ~ '/nodes/node1.crt') }}"
    key: "{{ lookup('ansible.builtin.file', podplay_pki_dir ~ '/nodes/node1.key') }}"
"""

RETURN = r"""
member:
  description: This node is one of the store's members.
  type: bool
  returned: always
installed:
  description: etcd was (or would be) installed from the distribution's packages.
  type: bool
  returned: always
unit_changed:
  description: The etcd unit was (or would be) rewritten; reload systemd.
  type: bool
  returned: always
restart:
  description: Something etcd reads at start changed on a member; restart it.
  type: bool
  returned: always
controller_unit_changed:
  description: The controller's unit was (or would be) rewritten; reload systemd.
  type: bool
  returned: always
controller_restart:
  description: Something the controller reads at start changed on a member; restart it.
  type: bool
  returned: always
changed_files:
  description: Paths written (or that would be).
  type: list
  returned: always
services:
  description: The systemctl commands run (or, in check mode, that would run), in order.
  type: list
  elements: str
  returned: always
  sample: ["systemctl --no-block restart podplay-controller.service"]
waited:
  description: Seconds spent waiting for the quorum (0 when nothing was (re)started).
  type: float
  returned: always
"""

import os  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._bundle import (  # noqa: E402
    BUNDLE_PATH,
    files_apply,
)
from ansible_collections.podplay.cluster.plugins.module_utils._systemd import (  # noqa: E402
    converge_units,
    report,
    started,
    store_steps,
)

ETCD_BINARY = "/usr/bin/etcd"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
# what the bundle writes; the module only installs etcd and hands these over
DESIRED = ("node", "address", "cluster", "members", "ca", "cert", "key", "client_port",
           "peer_port", "heartbeat_ms", "election_ms", "data_dir", "pki_dir", "config_path",
           "env_path", "unit_path", "controller_unit_path", "user")  # fmt: skip


def install_etcd(module, packages):
    """apt-get install, with services kept from starting (the package would start etcd with
    its defaults, and podplay's settings start it instead)."""
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if module.get_bin_path("apt-get") is None:
        module.fail_json(
            msg="store_config: %s is missing and apt-get is not available; install etcd 3.4 "
            "(%s) on this host" % (ETCD_BINARY, ", ".join(packages))
        )
    made_policy = not os.path.exists(POLICY_RC_D)
    if made_policy:
        with open(POLICY_RC_D, "w") as handle:
            handle.write("#!/bin/sh\n# podplay: no service starts during install\nexit 101\n")
        os.chmod(POLICY_RC_D, 0o755)
    try:
        rc, _out, err = module.run_command(cmd, environ_update=env)
        if rc != 0:  # no package lists yet, or stale ones
            module.run_command(["apt-get", "update"], environ_update=env)
            rc, _out, err = module.run_command(cmd, environ_update=env)
    finally:
        if made_policy:
            os.unlink(POLICY_RC_D)
    if rc != 0:
        module.fail_json(msg="store_config: apt-get install %s failed: %s"
                         % (" ".join(packages), err.strip()[-800:]))  # fmt: skip


def wait_for_quorum(module):
    """The bundle's own health check: every member answers, and this one is in a quorum."""
    p = module.params
    start = time.monotonic()
    argv = ["python3", p["bundle_path"], "store", "health", "--quorum", "--wait", str(p["wait"])]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        said = (err or out).strip().splitlines() or ["exit status %d" % rc]
        module.fail_json(msg="store_config: the store has no quorum with %s healthy in it "
                         "after %ss: %s" % (p["node"], p["wait"], said[-1]))  # fmt: skip
    return round(time.monotonic() - start, 2)


def run_services(module, result):
    """etcd and the controller as the files call for; the quorum waited for after a start."""
    daemon_reload, steps = store_steps(result)
    done = converge_units(module, daemon_reload, steps, "store_config: ")
    waited = wait_for_quorum(module) if started(done) and not module.check_mode else 0.0
    return report(done), waited


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node=dict(type="str", required=True),
            address=dict(type="str", required=True),
            cluster=dict(type="str", required=True),
            members=dict(type="list", elements="dict", required=True),
            ca=dict(type="str", required=True),
            cert=dict(type="str", required=True),
            key=dict(type="str", required=True, no_log=True),
            client_port=dict(type="int", default=2379),
            peer_port=dict(type="int", default=2380),
            heartbeat_ms=dict(type="int", default=100),
            election_ms=dict(type="int", default=1000),
            data_dir=dict(type="path", default="/var/lib/etcd/podplay"),
            pki_dir=dict(type="path", default="/etc/podplay/pki"),
            config_path=dict(type="path", default="/etc/podplay/store.json"),
            env_path=dict(type="path", default="/etc/podplay/etcd.env"),
            unit_path=dict(type="path", default="/etc/systemd/system/etcd.service"),
            controller_unit_path=dict(
                type="path", default="/etc/systemd/system/podplay-controller.service"
            ),
            install=dict(type="bool", default=True),
            packages=dict(type="list", elements="str", default=["etcd-server", "etcd-client"]),
            user=dict(type="str", default="etcd"),
            bundle_path=dict(type="path", default=BUNDLE_PATH),
            service=dict(type="bool", default=True),
            wait=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    p = module.params
    member = any(isinstance(m, dict) and m.get("name") == p["node"] for m in p["members"])
    installed = False
    if member and not os.path.exists(ETCD_BINARY):
        if not p["install"]:
            module.fail_json(msg="store_config: %s is missing on member %s and install is off"
                             % (ETCD_BINARY, p["node"]))  # fmt: skip
        installed = True
        if not module.check_mode:
            install_etcd(module, p["packages"])
    desired = {k: p[k] for k in DESIRED}
    would_change = dict(member=member, installed=installed, unit_changed=member,
                        restart=member, controller_unit_changed=member,
                        controller_restart=member, changed_files=[], services=[],
                        waited=0.0)  # fmt: skip
    result = files_apply(module, "store", desired, "store_config: ", would_change)
    result["installed"] = installed
    result["services"], result["waited"] = [], 0.0
    if p["service"]:
        result["services"], result["waited"] = run_services(module, result)
    result["changed"] = bool(result.get("changed") or installed or result["services"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
