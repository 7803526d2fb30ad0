# Copyright podplay developers. Apache-2.0.
"""What the `agent` role writes on a node, as plain text (pure; unit-tested).

- `/etc/podplay/agent.json`: the agent's configuration (format in the podplay node README).
- `/etc/podplay/token`: the cluster's bearer token for the agent API (mode 0600).
- `/etc/systemd/system/podplay-agent.service`: the agent unit; it names the node bundle's
  sha256, so a new bundle changes the unit and the role restarts the agent (which adopts
  the running pods: restarting the agent restarts no pod).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

AGENT_JSON = "/etc/podplay/agent.json"
TOKEN_PATH = "/etc/podplay/token"
UNIT_PATH = "/etc/systemd/system/podplay-agent.service"


def agent_config(p):
    """The agent.json document from the module's parameters."""
    doc = {
        "node": p["node"],
        "address": p["address"],
        "pod_cidr": p["pod_cidr"],
        "cluster": p["cluster"],
        "api_port": int(p["api_port"]),
        "token_file": p["token_path"],
        "pods_dir": p["pods_dir"],
        "cluster_file": p["cluster_file"],
        "state_dir": p["state_dir"],
        "bridge_network": p["bridge_network"],
        "pause_image": p["pause_image"] or "",
        "dns_ip": p["dns_ip"],
        "cluster_domain": p["cluster_domain"],
    }
    if p.get("backoff"):
        doc["backoff"] = dict(p["backoff"])
    return doc


def config_text(doc):
    """Canonical text: same config, same bytes."""
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def token_text(token):
    return token.strip() + "\n"


def unit_text(bundle_path, bundle_sha256, config_path=AGENT_JSON):
    return "\n".join(
        [
            "# Managed by podplay (role podplay.cluster.agent).",
            "[Unit]",
            "Description=podplay node agent: pods, probes, status API",
            "Documentation=file://%s" % config_path,
            "Wants=docker.service network-online.target",
            "After=network-online.target docker.service podplay-network.service",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            "# the bundle this unit runs; a new bundle changes the unit and restarts the agent",
            "Environment=PODPLAY_BUNDLE_SHA256=%s" % bundle_sha256,
            "ExecStart=/usr/bin/python3 %s agent --config %s" % (bundle_path, config_path),
            "Restart=always",
            "# back within the 2 s after which the other nodes' proxies call this node gone",
            "RestartSec=200ms",
            "# Stopping the agent never stops pods; the next agent adopts them by their labels.",
            "KillMode=process",
            "TimeoutStopSec=15",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
