"""The agent's configuration: `/etc/podplay/agent.json`, written by the `agent` role."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from .backoff import BackoffPolicy

DEFAULT_CONFIG = "/etc/podplay/agent.json"


class ConfigError(ValueError):
    """agent.json is missing, unreadable or wrong; the message names the field."""


@dataclass(frozen=True)
class AgentConfig:
    node: str
    address: str
    pod_cidr: str
    pause_image: str = ""  # empty: not configured yet; every pod reports it
    cluster: str = ""
    api_port: int = 10250
    bind_address: Optional[str] = None  # default: `address`
    token_file: str = "/etc/podplay/token"
    pods_dir: str = "/etc/podplay/pods"
    cluster_file: str = "/etc/podplay/cluster.json"
    state_dir: str = "/var/lib/podplay"
    bridge_network: str = "podplay"
    dns_ip: str = "10.96.0.10"
    cluster_domain: str = "cluster.local"
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    resync_seconds: float = 10.0
    workers: int = 8
    path: str = ""

    @property
    def listen_address(self) -> str:
        return self.bind_address or self.address


_REQUIRED = ("node", "address", "pod_cidr")
_OPTIONAL_STR = (
    "pause_image",
    "cluster",
    "bind_address",
    "token_file",
    "pods_dir",
    "cluster_file",
    "state_dir",
    "bridge_network",
    "dns_ip",
    "cluster_domain",
)


def parse_config(doc: Any, path: str = DEFAULT_CONFIG) -> AgentConfig:
    """Validate agent.json's content; raises ConfigError with a sentence naming the field."""
    if not isinstance(doc, dict):
        raise ConfigError("%s: expected a JSON object" % path)
    values: Dict[str, Any] = {"path": path}
    for k in _REQUIRED:
        v = doc.get(k)
        if not isinstance(v, str) or not v:
            raise ConfigError("%s: %s: a non-empty string is required" % (path, k))
        values[k] = v
    for k in _OPTIONAL_STR:
        v = doc.get(k)
        if v is not None:
            if not isinstance(v, str):
                raise ConfigError("%s: %s: expected a string" % (path, k))
            values[k] = v
    port = doc.get("api_port", 10250)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError("%s: api_port: expected a port number, got %r" % (path, port))
    values["api_port"] = port
    try:
        ipaddress.ip_network(values["pod_cidr"], strict=False)
        ipaddress.ip_address(values["address"])
    except ValueError as err:
        raise ConfigError("%s: %s" % (path, err)) from None
    b = doc.get("backoff") or {}
    try:
        values["backoff"] = BackoffPolicy(
            initial=float(b.get("initial", 10.0)),
            maximum=float(b.get("maximum", 300.0)),
            reset_after=float(b.get("reset_after", 600.0)),
        )
    except (TypeError, ValueError, AttributeError):
        raise ConfigError(
            "%s: backoff: expected numbers initial/maximum/reset_after" % path
        ) from None
    for k in ("resync_seconds",):
        if k in doc:
            values[k] = float(doc[k])
    if "workers" in doc:
        values["workers"] = max(1, int(doc["workers"]))
    return AgentConfig(**values)


def load_config(path: str = DEFAULT_CONFIG) -> AgentConfig:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except OSError as err:
        raise ConfigError("%s: cannot read (%s)" % (path, err.strerror)) from None
    except ValueError as err:
        raise ConfigError("%s: not valid JSON (%s)" % (path, err)) from None
    return parse_config(doc, path)


def read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as err:
        raise ConfigError("%s: cannot read the API token (%s)" % (path, err.strerror)) from None
    if not token:
        raise ConfigError("%s: the API token file is empty" % path)
    return token
