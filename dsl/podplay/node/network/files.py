"""The network's files on the node: network.json and podplay-network.service.

The network role hands the desired network.json to `network apply --desired -`, which writes
it (atomically, only when it differs) together with the unit, and starts the unit (restarts
it when the unit changed, i.e. a new node bundle), so a node's whole network state converges
in one call instead of one Ansible task per file. The unit runs `network watch`, the
repairer: it applies network.json at boot (systemd starts the agent and the proxy after it
said READY) and then keeps the node's network true (watch.py).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any, Dict, List, Optional

from podplay.node.contract.defaults import NETWORK_UNIT
from podplay.node.contract.jsontext import canonical_text
from podplay.node.util.bundle import sha256_file
from podplay.node.util.files import write_atomic

UNIT_PATH = NETWORK_UNIT
UNIT_NAME = os.path.basename(NETWORK_UNIT)
UNIT = """\
# Managed by podplay (role podplay.cluster.network).
[Unit]
Description=podplay pod network: bridge, routes to other nodes, NAT; kept true (repairer)
Documentation=file:///etc/podplay/network.json
Requires=docker.service
After=docker.service network-online.target
Before=podplay-agent.service podplay-proxy.service
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
# the bundle this unit runs; a new bundle changes the unit and restarts the repairer
Environment=PODPLAY_BUNDLE_SHA256={sha256}
ExecStart=/usr/bin/python3 {bundle} network watch --config {config}
Restart=always
RestartSec=1
# routes and rules stay when it stops (fail static)

[Install]
WantedBy=multi-user.target
"""


def unit_text(bundle: str, config: str, sha256: str = "") -> str:
    return UNIT.format(bundle=bundle, config=config, sha256=sha256)


def read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def has_systemd() -> bool:
    return os.path.isdir("/run/systemd/system")


def ensure_files(
    desired_doc: Any,
    config_path: str,
    bundle: str,
    check: bool = False,
    diff: Optional[List[Dict[str, str]]] = None,
) -> List[str]:
    """Write network.json and the unit when they differ; enable the unit and have it running
    (restarted when the unit changed). Returns changes; appends Ansible's diff entries (the
    files before and after) to `diff` when given."""
    changes: List[str] = []
    text = canonical_text(desired_doc)
    if read(config_path) != text:
        _record(diff, config_path, text)
        changes.append("%s written" % config_path)
        if not check:
            write_atomic(config_path, text)
    if not has_systemd():
        return changes
    unit = unit_text(bundle, config_path, sha256_file(bundle))
    unit_changed = read(UNIT_PATH) != unit
    if unit_changed:
        _record(diff, UNIT_PATH, unit)
        changes.append("%s written" % UNIT_PATH)
        if not check:
            write_atomic(UNIT_PATH, unit)
            systemctl("daemon-reload")
    if systemctl("is-enabled", UNIT_NAME, check=False) != "enabled":
        changes.append("%s enabled" % UNIT_NAME)
        if not check:
            systemctl("enable", UNIT_NAME)
    if unit_changed or systemctl("is-active", UNIT_NAME, check=False) != "active":
        action = "restart" if unit_changed else "start"
        changes.append("%s %sed" % (UNIT_NAME, action))
        if not check:
            systemctl(action, UNIT_NAME)  # returns once the repairer's first pass is done
    return changes


def _record(diff: Optional[List[Dict[str, str]]], path: str, after: str) -> None:
    if diff is not None:
        diff.append({"before_header": path, "after_header": path, "before": read(path),
                     "after": after})  # fmt: skip


def systemctl(*args: str, check: bool = True) -> str:
    done = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return done.stdout.strip()
