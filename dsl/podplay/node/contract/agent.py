"""agent.json, `/etc/podplay/agent.json`: who this node is and how its agent runs.

Written by `files apply agent` (the agent role), read once per process by the agent and by
the proxy (which takes what it needs from the same record: node/proxy/state.py). Messages
start with the file's path: "/etc/podplay/agent.json: node: missing (a non-empty string is
required)".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from podplay.node.contract import defaults, fields
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import FileRecord

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
    "tls_cert",
    "tls_key",
    "tls_ca",
    "oci_runtime",
)
_BACKOFF_FIELDS = ("initial", "maximum", "reset_after")
_FIELDS = _REQUIRED + _OPTIONAL_STR + ("api_port", "backoff", "resync_seconds", "workers")
# Undocumented tuning (tests and benchmarks set them): how often the agent re-reads its pods
# without a change, and how many pods it acts on at once.
RESYNC_SECONDS = 10.0
WORKERS = 8


@dataclass(frozen=True)
class Backoff:
    """Crash-loop backoff in seconds (the agent's BackoffPolicy is built from it)."""

    initial: float = defaults.BACKOFF_INITIAL
    maximum: float = defaults.BACKOFF_MAXIMUM
    reset_after: float = defaults.BACKOFF_RESET_AFTER

    def to_json(self) -> Dict[str, Any]:
        return {"initial": self.initial, "maximum": self.maximum, "reset_after": self.reset_after}


@dataclass(frozen=True)
class AgentConfig(FileRecord):
    node: str
    address: str
    pod_cidr: str
    pause_image: str = ""  # empty: not configured yet; every pod reports it
    cluster: str = ""
    api_port: int = defaults.AGENT_API_PORT
    bind_address: Optional[str] = None  # default: `address`
    token_file: str = defaults.TOKEN_FILE
    pods_dir: str = defaults.PODS_DIR
    cluster_file: str = defaults.CLUSTER_JSON
    state_dir: str = defaults.STATE_DIR
    bridge_network: str = defaults.BRIDGE_NETWORK
    dns_ip: str = defaults.DNS_IP
    cluster_domain: str = defaults.CLUSTER_DOMAIN
    # the API's TLS: the agent serves with cert/key, its clients on the node trust `tls_ca`
    tls_cert: str = defaults.NODE_CERT
    tls_key: str = defaults.NODE_KEY
    tls_ca: str = defaults.CA_FILE
    # the engine's name for the OCI runtime pods run under (the runtime role registers it);
    # empty: the engine's default runtime
    oci_runtime: str = ""
    backoff: Backoff = field(default_factory=Backoff)
    resync_seconds: float = RESYNC_SECONDS
    workers: int = WORKERS

    DEFAULT_PATH = defaults.AGENT_JSON

    @classmethod
    def _read(cls, doc: Any, path: str) -> AgentConfig:
        return _config(doc, path)

    @property
    def listen_address(self) -> str:
        return self.bind_address or self.address

    def to_json(self) -> Dict[str, Any]:
        """The canonical document: every field, optional ones only when not the default."""
        doc: Dict[str, Any] = {
            "node": self.node,
            "address": self.address,
            "pod_cidr": self.pod_cidr,
            "cluster": self.cluster,
            "api_port": self.api_port,
            "token_file": self.token_file,
            "pods_dir": self.pods_dir,
            "cluster_file": self.cluster_file,
            "state_dir": self.state_dir,
            "bridge_network": self.bridge_network,
            "pause_image": self.pause_image,
            "dns_ip": self.dns_ip,
            "cluster_domain": self.cluster_domain,
            "tls_cert": self.tls_cert,
            "tls_key": self.tls_key,
            "tls_ca": self.tls_ca,
        }
        if self.oci_runtime:
            doc["oci_runtime"] = self.oci_runtime
        if self.bind_address is not None:
            doc["bind_address"] = self.bind_address
        if self.backoff != Backoff():
            doc["backoff"] = self.backoff.to_json()
        if self.resync_seconds != RESYNC_SECONDS:
            doc["resync_seconds"] = self.resync_seconds
        if self.workers != WORKERS:
            doc["workers"] = self.workers
        return doc


def _config(doc: Any, path: str) -> AgentConfig:
    fields.only(fields.document(doc, path), _FIELDS, path)
    values: Dict[str, Any] = {k: fields.string(doc, k, path) for k in _REQUIRED}
    for k in _OPTIONAL_STR:
        v = fields.optional(doc, k, path, str)
        if v is not None:
            values[k] = v
    port = doc.get("api_port", defaults.AGENT_API_PORT)
    values["api_port"] = fields.port(port, path + ": api_port", low=0)
    fields.ip_network(values["pod_cidr"], path + ": pod_cidr")
    fields.ip_address(values["address"], path + ": address")
    fields.ip_address(values.get("dns_ip", defaults.DNS_IP), path + ": dns_ip")
    if "cluster_domain" in values:
        values["cluster_domain"] = values["cluster_domain"].strip(".")
    values["backoff"] = _backoff(doc.get("backoff"), path)
    values.update(_tuning(doc, path))
    return AgentConfig(**values)


def _backoff(raw: Any, path: str) -> Backoff:
    if not raw:
        return Backoff()
    where = path + ": backoff"
    fields.only(fields.document(raw, where, "an object"), _BACKOFF_FIELDS, where, ".")
    given = {}
    for k in _BACKOFF_FIELDS:
        v = fields.optional(raw, k, where, fields.NUMBER, ".")
        if v is not None and v < 0:
            raise ContractError("%s.%s: expected a number >= 0, got %r" % (where, k, v))
        if v is not None:
            given[k] = v
    return Backoff(**given)


def _tuning(doc: Dict[str, Any], path: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if doc.get("resync_seconds") is not None:
        out["resync_seconds"] = fields.above_zero(doc["resync_seconds"], path + ": resync_seconds")
    if doc.get("workers") is not None:
        out["workers"] = fields.at_least_one(doc, "workers", path, WORKERS, ": ")
    return out
