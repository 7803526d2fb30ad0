"""The network's files on the node: network.json and podplay-network.service.

The network role hands the desired network.json to `network apply --desired -`, which writes
it (atomically, only when it differs) together with the boot unit, so a node's whole network
state converges in one call instead of one Ansible task per file.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any, List

from podplay.node.contract.defaults import NETWORK_UNIT
from podplay.node.contract.jsontext import canonical_text
from podplay.node.util.files import write_atomic

UNIT_PATH = NETWORK_UNIT
UNIT_NAME = os.path.basename(NETWORK_UNIT)
UNIT = """\
[Unit]
Description=podplay pod network: bridge on the pod CIDR, routes to other nodes, NAT
Documentation=file:///etc/podplay/network.json
Requires=docker.service
After=docker.service network-online.target
Before=podplay-agent.service podplay-proxy.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/python3 {bundle} network apply --config {config}

[Install]
WantedBy=multi-user.target
"""


def unit_text(bundle: str, config: str) -> str:
    return UNIT.format(bundle=bundle, config=config)


def read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def has_systemd() -> bool:
    return os.path.isdir("/run/systemd/system")


def ensure_files(desired_doc: Any, config_path: str, bundle: str, check: bool = False) -> List[str]:
    """Write network.json and the unit when they differ; enable the unit. Returns changes."""
    changes: List[str] = []
    text = canonical_text(desired_doc)
    if read(config_path) != text:
        changes.append("%s written" % config_path)
        if not check:
            write_atomic(config_path, text)
    if not has_systemd():
        return changes
    unit = unit_text(bundle, config_path)
    if read(UNIT_PATH) != unit:
        changes.append("%s written" % UNIT_PATH)
        if not check:
            write_atomic(UNIT_PATH, unit)
            subprocess.run(["systemctl", "daemon-reload"], check=True, capture_output=True)
    enabled = subprocess.run(
        ["systemctl", "is-enabled", UNIT_NAME], capture_output=True, text=True, check=False
    ).stdout.strip()
    if enabled != "enabled":
        changes.append("%s enabled" % UNIT_NAME)
        if not check:
            subprocess.run(["systemctl", "enable", UNIT_NAME], check=True, capture_output=True)
    return changes
