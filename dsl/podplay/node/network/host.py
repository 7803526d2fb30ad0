"""The node as the network setup reads and changes it: Docker API, `ip`, iptables."""

from __future__ import annotations

import json
import subprocess
from typing import List, Optional, Sequence

from podplay.node.contract.network import NetworkConfig
from podplay.node.network.plan import BridgeState, bridge_options

LABEL = "io.podplay.network"


class HostError(RuntimeError):
    """A command or the Docker engine refused; the message says which and why."""


def run(argv: Sequence[str], stdin: str = "") -> str:
    try:
        res = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as err:
        raise HostError("%s: %s" % (argv[0], err.strerror)) from None
    if res.returncode != 0:
        raise HostError("%s failed: %s" % (" ".join(argv), (res.stderr or res.stdout).strip()))
    return res.stdout


def routes() -> List[dict]:
    return json.loads(run(["ip", "-j", "-4", "route", "show"]) or "[]")


def links() -> List[dict]:
    """Every interface with its addresses (`ip -j addr show`: ifindex, ifname, addr_info)."""
    return json.loads(run(["ip", "-j", "addr", "show"]) or "[]")


def replace_route(dst: str, via: str) -> None:
    run(["ip", "route", "replace", dst, "via", via, "proto", "static"])


def delete_route(dst: str) -> None:
    run(["ip", "route", "del", dst])


def iptables_save() -> str:
    return run(["iptables-save", "-t", "filter"]) + run(["iptables-save", "-t", "nat"])


def iptables_restore(text: str) -> None:
    run(["iptables-restore", "--noflush", "--wait"], text)


def chain_has_rule(table: str, chain: str, rule: str) -> bool:
    """One cheap look at one chain (`iptables -S CHAIN`): False when it or the rule is gone."""
    try:
        return rule in run(["iptables", "-w", "-t", table, "-S", chain]).splitlines()
    except HostError:
        return False


def read_text(path: str) -> Optional[str]:
    """A file's text, None when it is absent or unreadable."""
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def service_active(unit: str) -> bool:
    try:
        res = subprocess.run(
            ["systemctl", "is-active", "--quiet", unit], capture_output=True, check=False
        )
    except OSError:
        return False
    return res.returncode == 0


def reload_service(unit: str) -> None:
    run(["systemctl", "reload", unit])


class Engine:
    """The node's Docker engine (its own dockerd, reached on the local socket)."""

    def __init__(self) -> None:
        import docker  # imported here: `network apply --help` works without the engine

        try:
            self.client = docker.from_env(timeout=60)
            self.major = int(self.client.version()["Version"].split(".")[0])
        except Exception as err:
            raise HostError("the node's Docker engine does not answer: %s" % err) from None

    def bridge(self, name: str) -> BridgeState:
        import docker.errors

        try:
            net = self.client.networks.get(name)
        except docker.errors.NotFound:
            return BridgeState(exists=False)
        configs = (net.attrs.get("IPAM") or {}).get("Config") or [{}]
        return BridgeState(
            exists=True,
            subnet=configs[0].get("Subnet"),
            gateway=configs[0].get("Gateway"),
            options=dict(net.attrs.get("Options") or {}),
            containers=len(net.attrs.get("Containers") or {}),
        )

    def create_bridge(self, cfg: NetworkConfig) -> None:
        import docker.types

        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=cfg.pod_cidr, gateway=cfg.gateway)]
        )
        self.client.networks.create(
            cfg.bridge_network,
            driver="bridge",
            ipam=ipam,
            options=bridge_options(cfg, self.major),
            labels={LABEL: "pods"},
        )

    def close(self) -> None:
        self.client.close()

    def remove_bridge(self, name: str) -> None:
        self.client.networks.get(name).remove()
