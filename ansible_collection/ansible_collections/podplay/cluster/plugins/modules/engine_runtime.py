#!/usr/bin/python
# Copyright podplay developers. Apache-2.0.
"""Ansible module podplay.cluster.engine_runtime: the OCI runtime pods run under, installed
and registered with the Docker engine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: engine_runtime
short_description: Install an OCI runtime and register it with the Docker engine
description:
  - Makes the OCI runtime the agent starts pods under available to the node's Docker engine
    (Kubernetes nodes do the same with a RuntimeClass handler in containerd's config).
  - Installs O(package) from the distribution's packages (apt-get) when O(path) is missing
    (unless the engine lists O(name) with another binary).
  - Nothing more to do when C(docker info) lists O(name) already. Listed with O(path), the
    binary is there now; listed with another binary (or built in, as C(runc)), it is left
    as the host has it.
  - Otherwise adds O(name) to the C(runtimes) of the engine's C(daemon.json) when it is not
    there (an entry of that name is kept as it is; no other key is touched), then reloads
    the engine (C(systemctl reload docker.service); C(runtimes) is one of the settings the
    engine takes on a reload, so no container stops) and waits until C(docker info) lists
    the runtime.
  - Does nothing when O(name) is empty (the engine's default runtime).
  - Supports check mode and diff (C(daemon.json) before and after).
options:
  name:
    description: The engine's name for the runtime (what the agent passes as C(Runtime)).
    type: str
    default: crun
  path:
    description: The runtime's binary.
    type: path
    default: /usr/bin/crun
  package:
    description: The distribution package that provides O(path).
    type: str
    default: crun
  config_path:
    description: The engine's configuration file.
    type: path
    default: /etc/docker/daemon.json
  docker:
    description: The docker client command on the node.
    type: str
    default: docker
attributes:
  platform:
    description: Debian-like hosts with systemd (apt-get, systemctl).
    support: full
    platforms: posix
extends_documentation_fragment:
  - podplay.cluster.check_diff
author: podplay developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: OCI runtime of the pods (crun), installed and registered with the engine
  podplay.cluster.engine_runtime:
    name: crun
"""

RETURN = r"""
installed:
  description: Whether O(package) was installed (or would be, in check mode).
  type: bool
  returned: always
config_changed:
  description: Whether C(daemon.json) was changed (or would be).
  type: bool
  returned: always
reloaded:
  description: Whether the engine was reloaded (or would be).
  type: bool
  returned: always
"""

import os  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.podplay.cluster.plugins.module_utils._engine_config import (  # noqa: E402
    EngineConfigError,
    runtimes_listed,
    with_runtime,
)
from ansible_collections.podplay.cluster.plugins.module_utils._textfile import (  # noqa: E402
    read_text,
    write_text,
)

RELOAD_WAIT = 15.0  # seconds for the engine to list the runtime after a reload
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def install(module, package):
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]
    for command in ([*apt, "update", "-qq"],
                    [*apt, "install", "-y", "-q", "--no-install-recommends", package]):  # fmt: skip
        rc, out, err = module.run_command(command, environ_update=APT_ENV)
        if rc != 0:
            module.fail_json(msg="engine_runtime: installing %s failed: %s"
                             % (package, (err or out).strip()[-500:]))  # fmt: skip


def listed(module, docker):
    rc, out, err = module.run_command([docker, "info", "--format", "{{json .Runtimes}}"])
    if rc != 0:
        module.fail_json(msg="engine_runtime: docker info failed: %s" % (err or out).strip())
    return runtimes_listed(out)


def reload_until_listed(module, docker, name):
    rc, out, err = module.run_command(["systemctl", "reload", "docker.service"])
    if rc != 0:
        module.fail_json(msg="engine_runtime: reloading docker.service failed: %s"
                         % (err or out).strip())  # fmt: skip
    deadline = time.time() + RELOAD_WAIT
    while name not in listed(module, docker):
        if time.time() > deadline:
            module.fail_json(msg="engine_runtime: the engine does not list runtime %s %gs after "
                             "a reload (journalctl -u docker.service says why)"
                             % (name, RELOAD_WAIT))  # fmt: skip
        time.sleep(0.2)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", default="crun"),
            path=dict(type="path", default="/usr/bin/crun"),
            package=dict(type="str", default="crun"),
            config_path=dict(type="path", default="/etc/docker/daemon.json"),
            docker=dict(type="str", default="docker"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, installed=False, config_changed=False, reloaded=False)
    if not p["name"]:
        module.exit_json(msg="the engine's default runtime", **result)
    known = listed(module, p["docker"])
    if p["name"] in known and known[p["name"]] != p["path"]:
        # registered otherwise (by the host's owner, or built in as runc): theirs
        module.exit_json(msg="the engine lists runtime %s" % p["name"], **result)
    if not os.path.exists(p["path"]):
        result["installed"] = True
        if not module.check_mode:
            install(module, p["package"])
            if not os.path.exists(p["path"]):
                module.fail_json(msg="engine_runtime: package %s has no %s"
                                 % (p["package"], p["path"]))  # fmt: skip
    if p["name"] in known:  # registered with this binary, which is there (now)
        result["changed"] = result["installed"]
        module.exit_json(**result)
    before = read_text(p["config_path"])
    try:
        after = with_runtime(before, p["name"], p["path"])
    except EngineConfigError as err:
        module.fail_json(msg="engine_runtime: %s: %s" % (p["config_path"], err))
    result["config_changed"] = after is not None
    result["reloaded"] = True  # the engine does not list it yet: written, or never reloaded
    if not module.check_mode:
        if after is not None:
            write_text(module, p["config_path"], after)
        reload_until_listed(module, p["docker"], p["name"])
    result["changed"] = result["installed"] or result["config_changed"] or result["reloaded"]
    if module._diff and after is not None:
        result["diff"] = [{"before_header": p["config_path"], "after_header": p["config_path"],
                           "before": before or "", "after": after}]  # fmt: skip
    module.exit_json(**result)


if __name__ == "__main__":
    main()
