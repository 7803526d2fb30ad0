"""A pod's resolv.conf, written by the agent into its sandbox (as the kubelet's dockershim
did): the pod asks the cluster DNS directly, and every container that joins the sandbox's
network namespace shares the file."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, List, Optional

from docker.errors import DockerException

log = logging.getLogger("podplay.agent.runtime")


def resolv_conf_text(dns: Any) -> str:
    """The file's content for a pod's DNS settings (nameservers, searches, options)."""
    lines: List[str] = ["# written by the podplay agent"]
    lines += ["nameserver %s" % ns for ns in dns.nameservers]
    if dns.searches:
        lines.append("search %s" % " ".join(dns.searches))
    if dns.options:
        lines.append("options %s" % " ".join(dns.options))
    return "\n".join(lines) + "\n"


class ResolvConf:
    """Writes sandboxes' resolv.conf; finds the engine's data root once."""

    def __init__(self, api: Callable[[], Any]) -> None:
        self._api = api
        self._root_dir: Optional[str] = None

    def write(self, cid: str, dns: Any) -> None:
        try:
            path = self._path(cid)
            if path and dns.nameservers:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(resolv_conf_text(dns))
        except (OSError, DockerException) as err:
            # Docker's embedded DNS still forwards to the same nameservers
            log.warning("could not write resolv.conf of %s: %s", cid[:12], err)

    def _path(self, cid: str) -> Optional[str]:
        """Where the engine keeps a container's resolv.conf: under its data root, found once
        (one engine call per pod less than inspecting each new sandbox); inspected when the
        file is not where expected."""
        if self._root_dir is None:
            self._root_dir = str(self._api().info().get("DockerRootDir") or "")
        if self._root_dir:
            path = os.path.join(self._root_dir, "containers", cid, "resolv.conf")
            if os.path.exists(path):
                return path
        return self._api().inspect_container(cid).get("ResolvConfPath")
