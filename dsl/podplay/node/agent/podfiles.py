"""A pod's /etc/hosts and /etc/resolv.conf, written by the agent and mounted into each of
its containers (as the kubelet does).

The sandbox has no engine networking (see podnet.py), so the engine writes neither file for
it. The agent writes both into the sandbox's directory under the engine's data root, before
the sandbox starts; the engine removes that directory with the sandbox, so nothing is left
behind. The app containers bind-mount them. A sandbox made by an older agent, on the
engine's network, has no such files: its containers keep the engine's files, as before.
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Optional

from .manifest import DnsSpec

HOSTS = "podplay-hosts"
RESOLV_CONF = "podplay-resolv.conf"
NODE_RESOLV_CONF = "/etc/resolv.conf"


def hosts_text(ip: str, hostname: str) -> str:
    """The pod's hosts file: localhost, and its own name on its own address."""
    return (
        "# written by the podplay agent\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "ff00::0\tip6-mcastprefix\n"
        "ff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n"
        "%s\t%s\n" % (ip, hostname)
    )


def resolv_conf_text(dns: DnsSpec) -> str:
    """The file's content for a pod's DNS settings (nameservers, searches, options)."""
    lines: List[str] = ["# written by the podplay agent"]
    lines += ["nameserver %s" % ns for ns in dns.nameservers]
    if dns.searches:
        lines.append("search %s" % " ".join(dns.searches))
    if dns.options:
        lines.append("options %s" % " ".join(dns.options))
    return "\n".join(lines) + "\n"


def node_resolv_conf_text(node_text: str) -> str:
    """A pod without DNS settings gets the node's resolver file, without loopback
    nameservers (the node's own 127.x resolvers are not the pod's), as Docker does."""
    kept = ["# the node's resolv.conf, as the podplay agent found it"]
    for line in node_text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1 and _loopback(words[1]):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


class PodFiles:
    """Writes sandboxes' hosts and resolv.conf; finds the engine's data root once."""

    def __init__(self, api: Callable[[], Any], node_resolv_conf: str = NODE_RESOLV_CONF) -> None:
        self._api = api
        self._root_dir: Optional[str] = None
        self._node_resolv_conf = node_resolv_conf

    def write(self, sandbox_id: str, ip: str, hostname: str, dns: Optional[DnsSpec]) -> None:
        """Before the sandbox starts (its directory exists once it is created)."""
        directory = self._directory(sandbox_id)
        if dns is not None:
            resolv = resolv_conf_text(dns)
        else:
            with open(self._node_resolv_conf, encoding="utf-8") as f:
                resolv = node_resolv_conf_text(f.read())
        _write(os.path.join(directory, RESOLV_CONF), resolv)
        _write(os.path.join(directory, HOSTS), hosts_text(ip, hostname))

    def written(self, sandbox_id: str) -> bool:
        """Whether this sandbox is one the agent networks itself: it wrote its files, hosts
        last (so hosts there means both are)."""
        return os.path.exists(os.path.join(self._directory(sandbox_id), HOSTS))

    def binds(self, sandbox_id: str) -> List[str]:
        """The app containers' mounts of the sandbox's files; none for a sandbox of an older
        agent (the engine's files of its network endpoint serve)."""
        if not self.written(sandbox_id):
            return []
        directory = self._directory(sandbox_id)
        return [
            os.path.join(directory, HOSTS) + ":/etc/hosts",
            os.path.join(directory, RESOLV_CONF) + ":/etc/resolv.conf",
        ]

    def _directory(self, container_id: str) -> str:
        if self._root_dir is None:
            self._root_dir = str(self._api().info().get("DockerRootDir") or "/var/lib/docker")
        return os.path.join(self._root_dir, "containers", container_id)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
