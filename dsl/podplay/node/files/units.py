"""The systemd units of the agent and the proxy.

Each names the node bundle's sha256, so a new bundle changes the unit and the role restarts
the daemon (restarting the agent restarts no pod: it adopts them; the proxy leaves its rules
in the kernel meanwhile).
"""

from __future__ import annotations

from podplay.node.contract import defaults


def agent_unit(bundle_path: str, bundle_sha256: str, config_path: str = defaults.AGENT_JSON) -> str:
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


def proxy_unit(bundle_path: str, bundle_sha256: str, agent_json: str = defaults.AGENT_JSON) -> str:
    return "\n".join(
        [
            "# Managed by podplay (role podplay.cluster.proxy).",
            "[Unit]",
            "Description=podplay service proxy (iptables) and cluster DNS",
            "Documentation=file://%s" % defaults.CLUSTER_JSON,
            "Wants=network-online.target",
            "After=network-online.target docker.service podplay-network.service",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            "# the bundle this unit runs; a new bundle changes the unit and restarts the proxy",
            "Environment=PODPLAY_BUNDLE_SHA256=%s" % bundle_sha256,
            "ExecStart=/usr/bin/python3 %s proxy --config %s" % (bundle_path, agent_json),
            "Restart=always",
            "RestartSec=1",
            "# rules stay in the kernel when the proxy stops: routing keeps working (fail static)",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
