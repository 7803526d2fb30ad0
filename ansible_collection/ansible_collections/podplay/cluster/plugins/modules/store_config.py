#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.store_config (thin: texts in module_utils/_store_config)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: store_config
short_description: Everything a node needs of the cluster's store (etcd), in one step
description:
  - On every node, writes the cluster CA, this node's certificate and key (mode 0600) under
    I(pki_dir) and C(/etc/podplay/store.json) (endpoints and certificate paths for the
    node's store clients).
  - On the store's members (I(node) is one of I(members)) also installs etcd from the
    distribution's packages when C(/usr/bin/etcd) is absent (without starting it), writes
    etcd's settings (C(/etc/podplay/etcd.env)) and a systemd unit C(etcd.service), and makes
    the data directory. The key is then owned by the etcd user.
  - An existing member keeps its data; a member whose store was made with other members is
    refused (podplay does not change the members of an existing store).
  - Each file is written atomically and only when its content, mode or owner differs.
    Supports check mode and diff (the key is never shown).
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
author: podplay developers
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
  register: podplay_store
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
changed_files:
  description: Paths written (or that would be).
  type: list
  returned: always
"""

import os  # noqa: E402
import pwd  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._files import (  # noqa: E402
    file_mode,
    read_text,
    write_atomic,
)
from ansible_collections.podplay.cluster.plugins.module_utils._store_config import (  # noqa: E402
    ETCD_BINARY,
    StoreInputError,
    check_members,
    env_text,
    json_text,
    members_changed,
    pem_text,
    store_doc,
    unit_text,
)

POLICY_RC_D = "/usr/sbin/policy-rc.d"


def owner(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_uid, st.st_gid)


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
        write_atomic(
            POLICY_RC_D, "#!/bin/sh\n# podplay: no service starts during install\nexit 101\n", 0o755
        )
    try:
        rc, _, err = module.run_command(cmd, environ_update=env)
        if rc != 0:  # no package lists yet, or stale ones
            module.run_command(["apt-get", "update"], environ_update=env)
            rc, _, err = module.run_command(cmd, environ_update=env)
    finally:
        if made_policy:
            os.unlink(POLICY_RC_D)
    if rc != 0:
        module.fail_json(msg="store_config: apt-get install %s failed: %s"
                         % (" ".join(packages), err.strip()[-800:]))  # fmt: skip


def desired_files(p, members, member, etcd_ids):
    """(kind, path, text, mode, owner or None) of every file this node should have."""
    pki = p["pki_dir"]
    key_owner = etcd_ids if member else None
    store = store_doc(p["cluster"], p["node"], members, p["client_port"], pki)
    files = [
        ("ca", pki + "/ca.crt", pem_text(p["ca"]), 0o644, None),
        ("cert", pki + "/node.crt", pem_text(p["cert"]), 0o644, None),
        ("key", pki + "/node.key", pem_text(p["key"]), 0o600, key_owner),
        ("store", p["config_path"], json_text(store), 0o644, None),
    ]
    if member:
        files += [
            ("env", p["env_path"], env_text(p, members), 0o644, None),
            ("unit", p["unit_path"], unit_text(p["node"], p["env_path"], p["user"]), 0o644, None),
        ]
    return files


def _differs(path, text, mode, want_owner):
    if read_text(path) != text or file_mode(path) != mode:
        return True
    return want_owner is not None and owner(path) != want_owner


def _etcd_ids(module, user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        module.fail_json(
            msg="store_config: user %r does not exist; etcd runs as it (the etcd-server "
            "package makes it)" % user
        )
    return (entry.pw_uid, entry.pw_gid)


def _ensure_data_dir(path, ids, check):
    """The data directory (0700, owned by etcd); True when it was (or would be) changed."""
    st = os.stat(path) if os.path.isdir(path) else None
    if st is not None and (st.st_mode & 0o7777) == 0o700 and (st.st_uid, st.st_gid) == ids:
        return False
    if not check:
        if st is None:
            os.makedirs(path, 0o700)
        os.chmod(path, 0o700)
        os.chown(path, ids[0], ids[1])
    return True


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
            install=dict(type="bool", default=True),
            packages=dict(type="list", elements="str", default=["etcd-server", "etcd-client"]),
            user=dict(type="str", default="etcd"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        member = check_members(p["members"], p["node"])
    except StoreInputError as err:
        module.fail_json(msg="store_config: %s" % err)
    result = dict(changed=False, member=member, installed=False, unit_changed=False,
                  restart=False, changed_files=[])  # fmt: skip
    if member and not os.path.exists(ETCD_BINARY):
        if not p["install"]:
            module.fail_json(msg="store_config: %s is missing on member %s and install is off"
                             % (ETCD_BINARY, p["node"]))  # fmt: skip
        result.update(changed=True, installed=True)
        if not module.check_mode:
            install_etcd(module, p["packages"])
    ids = None
    if member and not (module.check_mode and result["installed"]):
        ids = _etcd_ids(module, p["user"])
    files = desired_files(p, p["members"], member, ids)
    if member:
        _refuse_other_members(module, p, files)
    diffs = _write_files(module, files, member, result)
    if ids is not None and _ensure_data_dir(p["data_dir"], ids, module.check_mode):
        result["changed"] = True
        result["changed_files"].append(p["data_dir"])
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


def _write_files(module, files, member, result):
    """Write what differs (not in check mode); record it in `result`; the diffs to show."""
    diffs = []
    for kind, path, text, mode, want_owner in files:
        if not _differs(path, text, mode, want_owner):
            continue
        result["changed"] = True
        result["changed_files"].append(path)
        if kind in ("ca", "cert", "key", "env", "unit"):
            result["restart"] = member
        if kind == "unit":
            result["unit_changed"] = True
        if kind != "key":
            diffs.append(dict(before_header=path, after_header=path,
                              before=read_text(path) or "", after=text))  # fmt: skip
        if not module.check_mode:
            write_atomic(path, text, mode)
            if want_owner is not None:
                os.chown(path, want_owner[0], want_owner[1])
    return diffs


def _refuse_other_members(module, p, files):
    """A member whose data was made with other members would never rejoin its old store:
    say so instead of starting it."""
    new_env = next(text for kind, _, text, _, _ in files if kind == "env")
    old = members_changed(read_text(p["env_path"]), new_env)
    if old is not None and os.path.isdir(os.path.join(p["data_dir"], "member")):
        module.fail_json(
            msg="store_config: the store's members changed (it was made with %s); podplay does "
            "not change the members of an existing store. To start it afresh (its data is "
            "lost): stop etcd and remove %s on every member, then run again" % (old, p["data_dir"])
        )


if __name__ == "__main__":
    main()
