"""The systemd units of the agent, the proxy, the controller and etcd.

The bundle's units name its sha256, so a new bundle changes the unit and the role restarts
the daemon (restarting the agent restarts no pod: it adopts them; the proxy leaves its rules
in the kernel meanwhile; the controller hands its leadership over).
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


def controller_unit(
    bundle_path: str, bundle_sha256: str, store_json: str = defaults.STORE_JSON
) -> str:
    return "\n".join(
        [
            "# Managed by podplay (role podplay.cluster.control_plane).",
            "[Unit]",
            "Description=podplay controller: moves a dead node's pods (one leader at a time)",
            "Documentation=file://%s" % store_json,
            "Wants=network-online.target",
            "After=network-online.target etcd.service",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            "# the bundle this unit runs; a new bundle changes the unit and restarts it",
            "Environment=PODPLAY_BUNDLE_SHA256=%s" % bundle_sha256,
            "ExecStart=/usr/bin/python3 %s controller --config %s" % (bundle_path, store_json),
            "Restart=always",
            "RestartSec=1",
            "# stopping it hands leadership over at once (it revokes its lease); pods are",
            "# never touched by a stop",
            "TimeoutStopSec=10",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def etcd_unit(node: str, env_path: str, user: str, binary: str) -> str:
    """etcd.service for a member; it shadows the distribution package's unit."""
    return "\n".join(
        [
            "# Managed by podplay (role podplay.cluster.control_plane).",
            "# It shadows the etcd package's own unit of the same name.",
            "[Unit]",
            "Description=etcd: the podplay cluster's store (member %s)" % node,
            "Documentation=file://%s" % env_path,
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "# ready (sd_notify) once the member has joined a cluster with a leader",
            "Type=notify",
            "User=%s" % user,
            "EnvironmentFile=%s" % env_path,
            "ExecStart=%s" % binary,
            "Restart=always",
            "RestartSec=1s",
            "LimitNOFILE=65536",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
